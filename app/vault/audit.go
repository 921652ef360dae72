package vault

import (
	"context"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"

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

// appendAudit appends e to the chain inside tx (Record, and the Audit
// events of a Batch, committed with the data they describe).
func appendAudit(tx *bbolt.Tx, k *keys, e app.AuditEvent) error {
	b, err := bucket(tx, bAudit)
	if err != nil {
		return err
	}
	set, err := bucket(tx, bSet)
	if err != nil {
		return err
	}
	seq, prev := uint64(1), auditGenesis(k)
	if lk, lv := b.Cursor().Last(); lk != nil {
		if len(lk) != 8 {
			return damaged(bAudit, lk)
		}
		seq, prev = binary.BigEndian.Uint64(lk)+1, crypto.MAC(k.chain, lv)
	}
	e.Seq = seq
	key := seqKey(seq)
	val, err := sealJSON(k.auditA, bAudit, key, kindAudit, auditRecord{E: e, P: prev})
	if err != nil {
		return err
	}
	if err := b.Put(key, val); err != nil {
		return err
	}
	hk := k.blinder().Blind(domHead)
	hv, err := sealJSON(k.auditA, bSet, hk, kindAuditHead, auditHead{Seq: seq, MAC: crypto.MAC(k.chain, val)})
	if err != nil {
		return err
	}
	return set.Put(hk, hv)
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
	if hv == nil {
		if rep.Audit > 0 {
			rep.Problems = append(rep.Problems, "audit: head record missing")
		}
		return
	}
	var h auditHead
	if err := openJSON(k.auditA, bSet, hk, kindAuditHead, hv, &h); err != nil {
		rep.Problems = append(rep.Problems, "audit: head record does not open")
		return
	}
	rep.Records++
	if h.Seq != uint64(rep.Audit) || !macEqual(h.MAC, lastMAC) {
		rep.Problems = append(rep.Problems, fmt.Sprintf("audit: log ends at entry %d, head names entry %d", rep.Audit, h.Seq))
	}
}
