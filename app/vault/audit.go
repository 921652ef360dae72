package vault

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.etcd.io/bbolt"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/crypto"
)

// auditRecord is the sealed content of one audit entry: the event and the
// MAC (chain key) of the previous entry's sealed bytes. Keys are the
// big-endian sequence number: a count leaks nothing the file size doesn't.
type auditRecord struct {
	E app.AuditEvent `json:"e"`
	P []byte         `json:"p"`
}

// auditHead, sealed in the settings bucket, names the last entry, so that
// cutting entries off the end of the log is detected too.
type auditHead struct {
	Seq uint64 `json:"seq"`
	MAC []byte `json:"mac"`
}

// auditGenesis is the "previous MAC" of the first entry. The chain's MACs
// use k.chain, a key of their own (carnet/audit-chain/v1), not the audit
// AEAD key.
func auditGenesis(k *keys) []byte { return crypto.MAC(k.chain, []byte("carnet/audit/genesis")) }

func seqKey(seq uint64) []byte { return binary.BigEndian.AppendUint64(nil, seq) }

// Record appends an event to the hash-chained audit log. The store sets
// e.Seq.
func (v *Vault) Record(ctx context.Context, e app.AuditEvent) error {
	if e.Time.IsZero() {
		e.Time = v.opt.Clock.Now()
	}
	return v.write("audit", func(tx *bbolt.Tx, k *keys) error { return appendAudit(tx, k, e) })
}

// auditGap is one recorded gap: when it was seen, the last entry left and
// the entry the head named. Sealed in the set bucket (a list); the header
// counts them (hAudit), so a removed record is seen too.
type auditGap struct {
	Seen    time.Time `json:"seen"`
	After   uint64    `json:"after"`   // last entry present when seen
	Head    uint64    `json:"head"`    // entry the head named
	Altered bool      `json:"altered"` // same count, other content
}

// String describes the gap without health data.
func (g auditGap) String() string {
	switch {
	case g.Altered:
		return fmt.Sprintf("entry %d altered or replaced (seen %s)", g.After, g.Seen.UTC().Format(time.RFC3339))
	case g.Head > g.After:
		return fmt.Sprintf("entries %d to %d missing (seen %s)", g.After+1, g.Head, g.Seen.UTC().Format(time.RFC3339))
	default:
		return fmt.Sprintf("log ends at entry %d but its head named entry %d (seen %s)", g.After, g.Head, g.Seen.UTC().Format(time.RFC3339))
	}
}

// auditTail returns the last entry's sequence and chain MAC (0, nil when
// the log is empty).
func auditTail(b *bbolt.Bucket, k *keys) (uint64, []byte, error) {
	lk, lv := b.Cursor().Last()
	if lk == nil {
		return 0, nil, nil
	}
	if len(lk) != 8 {
		return 0, nil, damaged(bAudit, lk)
	}
	return binary.BigEndian.Uint64(lk), crypto.MAC(k.chain, lv), nil
}

// legacyHead opens the head sealed in the set bucket (every format).
func legacyHead(tx *bbolt.Tx, k *keys) (auditHead, bool, error) {
	var h auditHead
	set, err := bucket(tx, bSet)
	if err != nil {
		return h, false, err
	}
	hk := k.blinder().Blind(domHead)
	hv := set.Get(hk)
	if hv == nil {
		return h, false, nil
	}
	if err := openJSON(k.auditA, bSet, hk, kindAuditHead, hv, &h); err != nil {
		return h, false, err
	}
	return h, true, nil
}

// expectedHead returns the head the log must end at: hAudit when the
// header binds it (format ≥ integrityFormat), else the sealed head of the
// set bucket. ok is false when no head exists (a log never written, or a
// pre-integrity head deleted).
func expectedHead(tx *bbolt.Tx, k *keys, h *header) (headField, bool, error) {
	if h.version >= integrityFormat {
		hf, ok := decodeHeadField(h.fields[hAudit])
		if !ok {
			return hf, false, fmt.Errorf("header audit head: %w", app.ErrDamaged)
		}
		return hf, true, nil
	}
	lh, ok, err := legacyHead(tx, k)
	if err != nil || !ok {
		return headField{}, ok, err
	}
	return headField{seq: lh.Seq, mac: lh.MAC}, true, nil
}

// headMismatch compares the log's tail with the expected head.
func headMismatch(want headField, present bool, seq uint64, mac []byte) bool {
	if !present {
		return seq > 0
	}
	return want.seq != seq || (seq > 0 && !macEqual(want.mac, mac))
}

func readGaps(tx *bbolt.Tx, k *keys) ([]auditGap, error) {
	var gaps []auditGap
	gk := k.blinder().Blind(domGaps)
	gv := tx.Bucket([]byte(bSet)).Get(gk)
	if gv == nil {
		return nil, nil
	}
	if err := openJSON(k.auditA, bSet, gk, kindAuditGaps, gv, &gaps); err != nil {
		return nil, err
	}
	return gaps, nil
}

// appendAudit appends e to the chain inside tx (Record, and the Audit
// events of a Batch, committed with the data they describe).
//
// The head is verified first: the header (checksum, MAC) and then the log's
// tail against the head the header binds. A tail cut, wiped or replaced
// since the last append is not sealed over: a gap is recorded (sealed
// list, counted in the header), an "audit.gap" event is chained before e,
// and Check and Unlock report it from then on.
func appendAudit(tx *bbolt.Tx, k *keys, e app.AuditEvent) error {
	b, err := bucket(tx, bAudit)
	if err != nil {
		return err
	}
	set, err := bucket(tx, bSet)
	if err != nil {
		return err
	}
	hb, h, err := txHeader(tx, k)
	if err != nil {
		return err
	}
	seq, prevMAC, err := auditTail(b, k)
	if err != nil {
		return err
	}
	want, present, err := expectedHead(tx, k, h)
	if err != nil {
		return err
	}
	gapCount := want.gaps
	if headMismatch(want, present, seq, prevMAC) {
		g := auditGap{Seen: e.Time, After: seq, Head: want.seq, Altered: present && want.seq == seq}
		gaps, err := readGaps(tx, k)
		if err != nil {
			return err
		}
		gaps = append(gaps, g)
		gk := k.blinder().Blind(domGaps)
		gv, err := sealJSON(k.auditA, bSet, gk, kindAuditGaps, gaps)
		if err != nil {
			return err
		}
		if err := set.Put(gk, gv); err != nil {
			return err
		}
		gapCount = uint32(len(gaps))
		if seq, prevMAC, err = putAudit(b, k, seq, prevMAC, app.AuditEvent{
			Time: e.Time, Action: "audit.gap", Result: "error", Detail: g.String(),
		}); err != nil {
			return err
		}
	}
	if seq, prevMAC, err = putAudit(b, k, seq, prevMAC, e); err != nil {
		return err
	}
	hk := k.blinder().Blind(domHead)
	hv, err := sealJSON(k.auditA, bSet, hk, kindAuditHead, auditHead{Seq: seq, MAC: prevMAC})
	if err != nil {
		return err
	}
	if err := set.Put(hk, hv); err != nil {
		return err
	}
	if h.version < integrityFormat {
		return nil
	}
	return putHeader(hb, k, h, map[string][]byte{hAudit: headField{seq: seq, mac: prevMAC, gaps: gapCount}.encode()})
}

// putAudit writes entry seq+1 chained to prevMAC (the chain MAC of entry
// seq, or nil for the first) and returns its sequence and chain MAC.
func putAudit(b *bbolt.Bucket, k *keys, seq uint64, prevMAC []byte, e app.AuditEvent) (uint64, []byte, error) {
	prev := prevMAC
	if seq == 0 {
		prev = auditGenesis(k)
	}
	seq++
	e.Seq = seq
	key := seqKey(seq)
	val, err := sealJSON(k.auditA, bAudit, key, kindAudit, auditRecord{E: e, P: prev})
	if err != nil {
		return 0, nil, err
	}
	if err := b.Put(key, val); err != nil {
		return 0, nil, err
	}
	return seq, crypto.MAC(k.chain, val), nil
}

// auditState tells Unlock whether the log has recorded gaps or a tail that
// does not match its head (not yet recorded: the next append records it).
func auditState(tx *bbolt.Tx, k *keys, h *header) (bool, error) {
	b, err := bucket(tx, bAudit)
	if err != nil {
		return false, err
	}
	seq, mac, err := auditTail(b, k)
	if err != nil {
		return false, err
	}
	want, present, err := expectedHead(tx, k, h)
	if err != nil {
		return false, err
	}
	return want.gaps > 0 || headMismatch(want, present, seq, mac), nil
}

// Audit returns the events matching f, oldest first (the newest f.Limit
// when set).
func (v *Vault) Audit(ctx context.Context, f app.AuditFilter) ([]app.AuditEvent, error) {
	var out []app.AuditEvent
	err := v.read("read audit", func(tx *bbolt.Tx, k *keys) error {
		b, err := bucket(tx, bAudit)
		if err != nil {
			return err
		}
		c := b.Cursor()
		for key, val := c.Last(); key != nil; key, val = c.Prev() {
			var r auditRecord
			if err := openJSON(k.auditA, bAudit, key, kindAudit, val, &r); err != nil {
				return err
			}
			e := r.E
			if (f.Patient != "" && e.Patient != f.Patient) ||
				(f.Action != "" && !strings.HasPrefix(e.Action, f.Action)) ||
				(!f.Since.IsZero() && e.Time.Before(f.Since)) {
				continue
			}
			out = append(out, e)
			if f.Limit > 0 && len(out) >= f.Limit {
				break
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.Reverse(out)
	return out, nil
}

// checkAudit verifies the chain: contiguous sequence from 1, each entry
// opens, names its sequence, and carries the MAC of the previous one; the
// head names the last entry.
func checkAudit(tx *bbolt.Tx, k *keys, rep *app.CheckReport) {
	b := tx.Bucket([]byte(bAudit))
	if b == nil {
		rep.Problems = append(rep.Problems, "audit: bucket missing")
		return
	}
	prev := auditGenesis(k)
	want := uint64(1)
	var lastMAC []byte
	c := b.Cursor()
	for key, val := c.First(); key != nil; key, val = c.Next() {
		if len(key) != 8 || binary.BigEndian.Uint64(key) != want {
			rep.Problems = append(rep.Problems, fmt.Sprintf("audit: sequence broken at entry %d", want))
			return
		}
		var r auditRecord
		if err := openJSON(k.auditA, bAudit, key, kindAudit, val, &r); err != nil {
			rep.Problems = append(rep.Problems, fmt.Sprintf("audit: entry %d does not open", want))
			return
		}
		rep.Records++
		if r.E.Seq != want || !macEqual(r.P, prev) {
			rep.Problems = append(rep.Problems, fmt.Sprintf("audit: chain broken at entry %d", want))
			return
		}
		prev = crypto.MAC(k.chain, val)
		lastMAC = prev
		rep.Audit++
		want++
	}
	hk := k.blinder().Blind(domHead)
	hv := tx.Bucket([]byte(bSet)).Get(hk)
	switch {
	case hv == nil && rep.Audit > 0:
		rep.Problems = append(rep.Problems, "audit: head record missing")
	case hv != nil:
		var h auditHead
		if err := openJSON(k.auditA, bSet, hk, kindAuditHead, hv, &h); err != nil {
			rep.Problems = append(rep.Problems, "audit: head record does not open")
			break
		}
		rep.Records++
		if h.Seq != uint64(rep.Audit) || !macEqual(h.MAC, lastMAC) {
			rep.Problems = append(rep.Problems, fmt.Sprintf("audit: log ends at entry %d, head names entry %d", rep.Audit, h.Seq))
		}
	}
	checkAuditBinding(tx, k, rep, uint64(rep.Audit), lastMAC)
}

// checkAuditBinding compares the log with the head the header binds
// (format ≥ integrityFormat) and reports every recorded gap: a gap stays a
// problem for good, it is the trace that entries were lost.
func checkAuditBinding(tx *bbolt.Tx, k *keys, rep *app.CheckReport, seq uint64, lastMAC []byte) {
	hb := tx.Bucket([]byte(bHeader))
	fields := map[string][]byte{}
	if hb != nil {
		_ = hb.ForEach(func(kk, vv []byte) error { fields[string(kk)] = bytes.Clone(vv); return nil })
	}
	var count uint32
	if len(fields[hFormat]) == 4 && binary.BigEndian.Uint32(fields[hFormat]) >= integrityFormat {
		hf, ok := decodeHeadField(fields[hAudit])
		switch {
		case !ok:
			rep.Problems = append(rep.Problems, "audit: the header's audit head is missing or malformed")
		case hf.seq != seq || (seq > 0 && !macEqual(hf.mac, lastMAC)):
			rep.Problems = append(rep.Problems, fmt.Sprintf("audit: log ends at entry %d, the header names entry %d (entries cut, wiped or replaced)", seq, hf.seq))
		}
		count = hf.gaps
	}
	gaps, err := readGaps(tx, k)
	if err != nil {
		rep.Problems = append(rep.Problems, "audit: gap record does not open")
		return
	}
	if gaps != nil {
		rep.Records++
	}
	for _, g := range gaps {
		rep.Problems = append(rep.Problems, "audit: gap recorded: "+g.String())
	}
	if uint32(len(gaps)) < count {
		rep.Problems = append(rep.Problems, fmt.Sprintf("audit: %d gap records removed", count-uint32(len(gaps))))
	}
}
