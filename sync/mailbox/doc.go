// Package mailbox imports MSSanté secure messages: it implements app.Mailbox
// over IMAP with github.com/emersion/go-imap/v2 (pinned at v2.0.0-beta.8).
//
// Connections are TLS only (implicit TLS, or STARTTLS that the server must
// advertise: a stripped STARTTLS is refused before any credential is sent),
// verified against a configurable trust store (IGC-Santé in production).
// Authentication is chosen from the server's capabilities: SASL EXTERNAL
// with the practitioner's client certificate, OAUTHBEARER or XOAUTH2 with an
// access token (with the error-challenge fix of RFC 7628 §3.2.3), PLAIN or
// LOGIN over TLS.
//
// Fetch reads the messages above the sync point (UIDVALIDITY, last UID; the
// "UID n:*" quirk filtered), BODYSTRUCTURE first, then only what is needed,
// always with PEEK so that \Seen never changes: the whole message (to be
// sealed in the vault) and the attachments Carnet reads (IHE_XDM.ZIP, bare
// CDA, PDF), found by decoded name (RFC 2231 with charsets and
// continuations, RFC 2047) and media type, inside forwarded messages too,
// with sizes checked before download. Archives are read by package xdm,
// CDA headers by app/cda. Signed or encrypted mail goes to a person.
//
// ReceiptSender sends read receipts (RFC 8098 MDNs in the ANS format,
// mdn.go) through the account's SMTP submission server (Account.Submission)
// with github.com/emersion/go-smtp, under the same rules: TLS only, a
// STARTTLS that must be advertised, the same trust store, credentials and
// mechanisms, every step bounded by the dial timeout and the context.
//
// WalkMIME and ParseMessage do the same from a whole message without IMAP
// (demo mailbox, re-processing a sealed message, fuzzing).
//
// Opener (opener.go) implements app.MailboxOpener for the one mail-import
// use case, app.Service.ImportMail: it builds the Account of an
// app.MailAccount and its credentials and returns the Client. The Client
// is laid out as go-imap's client is, one concern per file: session.go
// (connection, reconnect, selection, the locking rule), fetch.go (the
// pipeline: producer, parsers, byte budget), download.go (the MIME plan and
// the download of the parts), mark.go (keyword or MOVE), idle.go (waiting
// for new mail).
//
// Errors read "mailbox: …", wrap an app error kind, and never carry health
// data.
package mailbox
