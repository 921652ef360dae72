// Package xds is Carnet's client of the production DMP interface: SOAP 1.2
// with WS-Addressing, IHE XDS.b (ITI-18 stored queries, ITI-41 provide and
// register, ITI-43 retrieve, ITI-57 metadata update), MTOM/XOP attachments and
// the VIHF, the signed SAML 2.0 assertion carried in the WS-Security header.
//
// It is the second adapter of app.RecordService, beside the FHIR client of
// package sync/dmp, and shares nothing with it but app types. The facts it
// relies on, with their sources and confidence, are in the project's
// reference dmp-xds-vihf.md; what is verified and what awaits the DMP's test
// platform is in COMPATIBILITY.md beside this file.
//
// Every reader here parses by namespace, never by prefix, refuses DTDs and
// entity declarations, and bounds the size and depth of what it reads.
package xds
