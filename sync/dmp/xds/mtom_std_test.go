package xds

import (
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"strings"

	"github.com/carnetdesk/carnet/app"
)

// readRetrieveStd is the former ReadRetrieve, on mime/multipart: the
// reference FuzzReadRetrieveStream checks the streaming reader against.
// It reads an ITI-43 response (MTOM, or plain SOAP with the
// document inline) and returns the one document asked for. The MTOM part is
// read once, into one buffer sized from the metadata, while its SHA-1 is
// computed: a 20 MB document is never held twice. relatesTo is the request's
// MessageID.
func readRetrieveStd(body io.Reader, contentType, relatesTo string, want Expect, rootLimit int64) ([]byte, error) {
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		return nil, fmt.Errorf("xds: retrieve: content type: %v: %w", err, app.ErrServer)
	}
	var mr *multipart.Reader
	var root io.Reader = body
	if mt == "multipart/related" {
		mr = multipart.NewReader(body, params["boundary"])
		p, err := mr.NextPart()
		if err != nil {
			return nil, fmt.Errorf("%w: no root part: %v: %w", ErrMTOM, err, app.ErrServer)
		}
		root = p
	} else if mt != "application/soap+xml" {
		return nil, fmt.Errorf("xds: retrieve: unexpected content type %q: %w", mt, app.ErrServer)
	}
	env, err := ReadEnvelope(root, rootLimit, relatesTo)
	if err != nil {
		return nil, err
	}
	docs, err := ReadRetrieveResponse(env.Body)
	if err != nil {
		return nil, err
	}
	var doc *DocumentResponse
	for i := range docs {
		if docs[i].DocumentID != want.DocumentID {
			return nil, fmt.Errorf("%w: answered for another document: %w", ErrMTOM, app.ErrIntegrity)
		}
		if doc != nil {
			return nil, fmt.Errorf("%w: the document came twice: %w", ErrMTOM, app.ErrIntegrity)
		}
		doc = &docs[i]
	}
	if doc == nil {
		return nil, fmt.Errorf("xds: retrieve: no document in the answer: %w", app.ErrWithdrawn)
	}
	var data []byte
	if doc.Include == "" {
		if mr != nil {
			if err := noMoreParts(mr); err != nil {
				return nil, err
			}
		}
		clean := strings.Map(func(r rune) rune {
			if r == ' ' || r == '\n' || r == '\r' || r == '\t' {
				return -1
			}
			return r
		}, doc.Inline)
		data, err = base64.StdEncoding.DecodeString(clean)
		if err != nil {
			return nil, fmt.Errorf("xds: retrieve: bad base64 document: %w", app.ErrServer)
		}
	} else {
		if mr == nil {
			return nil, fmt.Errorf("%w: xop:Include in a message without parts: %w", ErrMTOM, app.ErrServer)
		}
		p, err := mr.NextPart()
		if err == io.EOF {
			return nil, fmt.Errorf("%w: missing part: %w", ErrMTOM, app.ErrIntegrity)
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %v: %w", ErrMTOM, err, app.ErrServer)
		}
		if cid := strings.Trim(strings.TrimSpace(p.Header.Get("Content-ID")), "<>"); cid != doc.Include {
			return nil, fmt.Errorf("%w: part is not the one referenced: %w", ErrMTOM, app.ErrIntegrity)
		}
		data, err = readPart(p, want)
		if err != nil {
			return nil, err
		}
		if err := noMoreParts(mr); err != nil {
			return nil, err
		}
	}
	if want.Size >= 0 && int64(len(data)) != want.Size {
		return nil, fmt.Errorf("%w: size differs from the metadata: %w", ErrMTOM, app.ErrIntegrity)
	}
	if int64(len(data)) > want.MaxSize {
		return nil, fmt.Errorf("%w: document larger than %d bytes: %w", ErrMTOM, want.MaxSize, app.ErrIntegrity)
	}
	if want.Hash != "" {
		sum := sha1.Sum(data)
		if !strings.EqualFold(hex.EncodeToString(sum[:]), want.Hash) {
			return nil, fmt.Errorf("%w: SHA-1 differs from the metadata: %w", ErrMTOM, app.ErrIntegrity)
		}
	}
	return data, nil
}

// readPart reads one attachment into a single buffer of the expected size,
// refusing more than the metadata's size (or MaxSize when unknown).
func readPart(p io.Reader, want Expect) ([]byte, error) {
	if want.Size >= 0 && want.Size <= want.MaxSize {
		// The size is known: one buffer of exactly that size, then one
		// byte more must not come.
		buf := make([]byte, want.Size)
		if _, err := io.ReadFull(p, buf); err != nil {
			if err == io.ErrUnexpectedEOF || err == io.EOF {
				return nil, fmt.Errorf("%w: part shorter than the metadata says: %w", ErrMTOM, app.ErrIntegrity)
			}
			return nil, fmt.Errorf("%w: reading the part: %v: %w", ErrMTOM, err, app.ErrOffline)
		}
		var one [1]byte
		if n, _ := io.ReadFull(p, one[:]); n > 0 {
			return nil, fmt.Errorf("%w: part larger than the metadata says: %w", ErrMTOM, app.ErrIntegrity)
		}
		return buf, nil
	}
	data, err := io.ReadAll(io.LimitReader(p, want.MaxSize+1))
	if err != nil {
		return nil, fmt.Errorf("%w: reading the part: %v: %w", ErrMTOM, err, app.ErrOffline)
	}
	if int64(len(data)) > want.MaxSize {
		return nil, fmt.Errorf("%w: part larger than %d bytes: %w", ErrMTOM, want.MaxSize, app.ErrIntegrity)
	}
	return data, nil
}

// noMoreParts checks that the multipart body ends here.
func noMoreParts(mr *multipart.Reader) error {
	_, err := mr.NextPart()
	if err == io.EOF {
		return nil
	}
	if err != nil {
		return fmt.Errorf("%w: %v: %w", ErrMTOM, err, app.ErrServer)
	}
	return fmt.Errorf("%w: extra part: %w", ErrMTOM, app.ErrIntegrity)
}
