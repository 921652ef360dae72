package app

import (
	"context"
	"crypto/sha1" // #nosec G505 -- SHA-1 is the XDS/DMP document hash, not a security measure
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// This file is the import's filing: what becomes of each report of a
// message (filed, known, manual queue, quarantine), how it joins a
// patient's manifest, and the notes that say why. The engine that drives
// it, unit by unit, is in mail_importer.go.

// build decides the fate of every report of m and adds to the unit its
// documents, manifests, inbox items, raw message, deduplication record and
// audit events.
//
// A message that reuses an earlier Message-ID with other content (reused)
// files nothing: each report waits in the manual queue with
// ReasonMessageIDReused and a note. When its reports are about different
// patients (partsDisagree), none is filed: ReasonPartsDisagree.
func (im *importer) build(ctx context.Context, u *unit, m Message, key, hash string, reused bool) (unitMessage, error) {
	now := im.opt.Clock.Now()
	b := &u.batch
	// What the unit keeps of the message once committed: its reference
	// and what a read receipt needs (not the reports; the raw bytes, which
	// the unit's batch holds anyway, only for a receipt to send).
	um := unitMessage{m: Message{Ref: m.Ref, From: m.From, Subject: m.Subject, Date: m.Date, Size: m.Size,
		NotifyTo: m.NotifyTo, ReturnPath: m.ReturnPath, HeaderINS: m.HeaderINS}, reason: MatchAuto}
	if _, auto := ReceiptWanted(m); auto && im.opt.ReadReceipts && im.opt.Receipts != nil && !m.Quarantined() {
		um.m.Raw = m.Raw
	}
	u.bytes += bodyBytes(m) // the raw bytes and the reports, filed or queued
	if len(m.Raw) > 0 {
		b.MailRaw = append(b.MailRaw, RawMessage{Key: key, Ref: m.Ref, Bytes: m.Raw})
	}
	event := func(p PatientID, result, detail string) AuditEvent {
		return AuditEvent{Time: now, Practitioner: im.opt.Practitioner, Structure: im.opt.Structure,
			Patient: p, Action: "mail.import", Result: result, Detail: detail}
	}
	item := func(n int, rep *IncomingReport, st InboxState, r MatchReason, c []Candidate, probs []ImportProblem) {
		sum := sha256.Sum256([]byte(key + "#" + strconv.Itoa(n)))
		it := InboxItem{ID: InboxID(hex.EncodeToString(sum[:16])), State: st, Message: m.Ref, MessageKey: key,
			From: m.From, Subject: m.Subject, Received: m.Date, Report: rep, Reason: r, Candidates: c,
			Problems: probs, CreatedAt: now}
		if len(um.items) == 0 {
			um.reason = r
		}
		um.items = append(um.items, it)
		b.Inbox = append(b.Inbox, it)
	}
	um.outcome = OutcomeFiled
	rec := MailRecord{Key: key, Ref: m.Ref, At: now, Hash: hash}
	if m.Quarantined() {
		item(0, nil, InboxQuarantined, ReasonQuarantine, nil, m.Problems)
		rec.Outcome = OutcomeQuarantined
		b.MailRecords = append(b.MailRecords, rec)
		u.events = append(u.events, event("", "quarantined", problemKinds(m.Problems)))
		um.outcome = OutcomeQuarantined
		return um, nil
	}
	if err := im.loadPending(ctx); err != nil {
		return um, err
	}
	queued := map[string]bool{} // reports queued from this message
	var pks []string            // pendingKey of every report item made
	var reuse []ImportProblem
	if reused {
		reuse = []ImportProblem{{Kind: ProblemReusedID, Detail: "Message-ID already used by a message with other content"}}
	}
	disagree := partsDisagree(m.Reports)
	for i := range m.Reports {
		rep := m.Reports[i]
		res := MatchPatient(rep.Identity, im.patients, im.opt.Demo)
		// What forbids filing whatever the match, most specific last.
		hold := rep.Hold
		if hold == "" && rep.NoAuto {
			hold = ReasonSeveralPatients
		}
		if hold == "" && disagree && res.Auto() {
			hold = ReasonPartsDisagree
		}
		if reused {
			hold = ReasonMessageIDReused
		}
		switch {
		case rep.Meta.ID == "" || !strings.EqualFold(rep.MediaType, "text/xml"):
			res.Reason, res.Patient = unstructuredReason(rep), ""
			if reused {
				res.Reason = hold
			}
		case hold != "":
			if res.Auto() {
				res.Candidates = append(res.Candidates, Candidate{Patient: res.Patient, Kind: CandidateSameINS})
			}
			res.Reason, res.Patient = hold, ""
		}
		if !res.Auto() {
			pk := pendingKey(rep)
			if im.pending[pk] || queued[pk] {
				im.sum.Known++
				continue
			}
			queued[pk] = true
			pks = append(pks, pk)
			item(len(um.items)+1, &rep, InboxPending, res.Reason, res.Candidates, reuse)
			u.events = append(u.events, event("", "manual", string(res.Reason)))
			im.sum.Manual++
			um.outcome = OutcomeManual
			continue
		}
		man, ok := u.manifests[res.Patient]
		if !ok {
			// The manifest as the unit being committed leaves it, else
			// as stored.
			got, err := Manifest{}, error(nil)
			if c := im.committing; c != nil && c.manifests[res.Patient] != nil {
				got = *c.manifests[res.Patient]
			} else if got, err = im.store.Manifest(ctx, res.Patient); err != nil && !errors.Is(err, ErrNotFound) {
				return um, fmt.Errorf("mail import: manifest: %w", err)
			}
			got.Patient = res.Patient
			got.Documents = append([]DocumentMeta(nil), got.Documents...)
			man = &got
			u.manifests[res.Patient] = man
		}
		switch fileInto(man, &rep) {
		case fileKnown:
			im.sum.Known++
			u.events = append(u.events, event(res.Patient, "duplicate", "document already in record"))
			continue
		case fileConflict:
			pks = append(pks, pendingKey(rep))
			item(len(um.items)+1, &rep, InboxPending, ReasonConflict, []Candidate{{Patient: res.Patient, Kind: CandidateSameINS}}, nil)
			u.events = append(u.events, event(res.Patient, "manual", string(ReasonConflict)))
			im.sum.Manual++
			um.outcome = OutcomeManual
			continue
		}
		if !containsID(u.order, res.Patient) {
			u.order = append(u.order, res.Patient)
		}
		b.Documents = append(b.Documents, DocumentContent{Patient: res.Patient, ID: rep.Meta.ID, Bytes: rep.Content})
		rec.Documents = append(rec.Documents, rep.Meta.ID)
		u.events = append(u.events, event(res.Patient, "ok", "filed"))
		im.sum.Filed++
	}
	// The reports queued from this message are pending from now on, for
	// the next messages of the unit too.
	for _, pk := range pks {
		im.pending[pk] = true
	}
	// Message-level problems (PDF-only, encrypted, no attachment, a
	// document that is not a CDA…): one item so that nothing is lost.
	if len(m.Reports) == 0 || hasOwnItem(m.Problems) {
		r := ReasonNoReport
		if reused {
			r = ReasonMessageIDReused
		}
		item(0, nil, InboxPending, r, nil, append(append([]ImportProblem(nil), m.Problems...), reuse...))
		u.events = append(u.events, event("", "manual", "no-report:"+problemKinds(m.Problems)))
		im.sum.Manual++
		um.outcome = OutcomeManual
	}
	rec.Outcome = um.outcome
	b.MailRecords = append(b.MailRecords, rec)
	return um, nil
}

// loadPending reads, once per run, the keys of the reports already in the
// manual queue or attached by a person, so that a report received twice is
// queued once.
func (im *importer) loadPending(ctx context.Context) error {
	if im.pending != nil {
		return nil
	}
	items, err := im.store.Inbox(ctx)
	if err != nil {
		return fmt.Errorf("mail import: inbox: %w", err)
	}
	im.pending = map[string]bool{}
	for _, it := range items {
		if it.Report != nil && (it.State == InboxPending || it.State == InboxAttached) {
			im.pending[pendingKey(*it.Report)] = true
		}
	}
	return nil
}

// pendingKey identifies a report's content: its uniqueId (when it has one)
// and the SHA-1 of its bytes.
func pendingKey(rep IncomingReport) string {
	h := rep.Meta.Hash
	if len(rep.Content) > 0 || h == "" {
		h = contentHash(rep.Content)
	}
	return string(rep.Meta.ID) + "\x00" + strings.ToLower(h)
}

// fileResult is what fileInto did.
type fileResult int

const (
	fileAdded    fileResult = iota // added to the manifest
	fileKnown                      // already there (same uniqueId and content, or same content)
	fileConflict                   // same uniqueId, different content
)

// fileInto adds a report to a manifest: deduplicated by uniqueId and hash,
// and with the versions of its set ordered by versionNumber whatever the
// arrival order (an older version arriving late is stored superseded).
func fileInto(man *Manifest, rep *IncomingReport) fileResult {
	meta := rep.Meta
	meta.Hash = contentHash(rep.Content)
	meta.Size = int64(len(rep.Content))
	meta.MediaType = rep.MediaType
	meta.Source, meta.Cached = "mssante", true
	if meta.SetID == "" {
		meta.SetID = rep.SetID
	}
	if meta.Version == 0 {
		meta.Version = rep.Version
	}
	for _, d := range man.Documents {
		if d.ID == meta.ID {
			if d.Hash == "" || strings.EqualFold(d.Hash, meta.Hash) {
				return fileKnown
			}
			return fileConflict
		}
		if d.Hash != "" && strings.EqualFold(d.Hash, meta.Hash) {
			return fileKnown
		}
	}
	for i := range man.Documents {
		d := &man.Documents[i]
		switch {
		case rep.Replaces != "" && d.ID == rep.Replaces:
			d.Superseded = true
		case meta.SetID != "" && d.SetID == meta.SetID && d.Version < meta.Version:
			d.Superseded = true
		case meta.SetID != "" && d.SetID == meta.SetID && d.Version >= meta.Version:
			meta.Superseded = true
		}
	}
	man.Documents = append(man.Documents, meta)
	rep.Meta = meta
	return fileAdded
}

// contentHash is the SHA-1 hex of b, the hash the XDS metadata and the
// central service use.
func contentHash(b []byte) string {
	sum := sha1.Sum(b) // #nosec G401 -- the XDS document hash
	return hex.EncodeToString(sum[:])
}

func containsID(ids []PatientID, id PatientID) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}

// problemKinds lists the kinds of ps, comma-separated (no health data).
func problemKinds(ps []ImportProblem) string {
	ks := make([]string, 0, len(ps))
	for _, p := range ps {
		ks = append(ks, string(p.Kind))
	}
	return strings.Join(ks, ",")
}

// hasOwnItem reports whether problems need a message-level inbox item of
// their own (a PDF-only mail is represented by its PDF's item).
func hasOwnItem(ps []ImportProblem) bool {
	for _, p := range ps {
		if p.Kind != ProblemPDFOnly {
			return true
		}
	}
	return false
}

// noteReason describes why an inbox item was made: the ANS code and the
// reason, and the problems of the message (kinds and details, which carry
// no health data).
func noteReason(it InboxItem) string {
	r := string(it.Reason)
	if c := it.Reason.Code(); c != 0 {
		r = strconv.Itoa(c) + " " + r
	}
	for _, p := range it.Problems {
		r += "; " + string(p.Kind)
		if p.Part != "" {
			r += " (part " + p.Part + ")"
		}
		if p.Detail != "" {
			r += ": " + p.Detail
		}
	}
	return r
}

// partsDisagree reports whether the reports of one message (its parts,
// or the documents of its archives) are about different patients: two
// INS, two archive patient ids, or two birth names or birth dates that
// differ. Reports without identity (a PDF) do not count.
func partsDisagree(reps []IncomingReport) bool {
	var ins, birth, name string
	differs := func(seen *string, v string) bool {
		if v == "" {
			return false
		}
		if *seen == "" {
			*seen = v
			return false
		}
		return *seen != v
	}
	for _, r := range reps {
		id := r.Identity
		for _, x := range []INS{id.INS, id.XDMPatient} {
			if m := strings.ToUpper(strings.TrimSpace(x.Matricule)); m != "" && differs(&ins, m) {
				return true
			}
		}
		if differs(&name, Fold(squash(id.BirthName))) || differs(&birth, strings.TrimSpace(id.BirthDate)) {
			return true
		}
	}
	return false
}
