package vault

import (
	"context"
	"fmt"

	"go.etcd.io/bbolt"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/crypto"
)

// Check opens every record of every bucket (with keys unwrapped afresh,
// not from the cache), verifies that directory, keys, manifests, documents
// and cursors agree, that the header MAC holds and that the audit chain is
// intact. Problems name buckets, counts and prefixes of opaque keys, never
// health data. The error is for failures to run the check at all (locked
// vault, I/O).
func (v *Vault) Check(ctx context.Context) (app.CheckReport, error) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	k, err := v.unlocked("check")
	if err != nil {
		return app.CheckReport{}, err
	}
	var rep app.CheckReport
	h, err := v.readHeader()
	if err != nil {
		rep.Problems = append(rep.Problems, "header: "+err.Error())
	} else if !macEqual(headerMAC(k.header, h.fields), h.mac) {
		rep.Problems = append(rep.Problems, "header: mac does not verify")
	}
	err = v.view(v.db, func(tx *bbolt.Tx) error {
		c := checker{tx: tx, k: k, bl: k.blinder(), rep: &rep, deks: map[string]*dek{}}
		defer c.wipe()
		c.structure()
		for _, n := range allBuckets {
			if tx.Bucket([]byte(n)) == nil {
				c.problem("%s: bucket missing", n)
				return nil
			}
		}
		c.patients(ctx)
		c.outbox()
		c.settings()
		c.mail()        // mail.go
		c.mailSecrets() // secret.go
		checkAudit(tx, k, &rep)
		return ctx.Err()
	})
	if err != nil {
		return rep, fmt.Errorf("vault: check: %w", err)
	}
	return rep, nil
}

type checker struct {
	tx   *bbolt.Tx
	k    *keys
	bl   *crypto.Blinder
	rep  *app.CheckReport
	deks map[string]*dek
}

func (c *checker) problem(format string, args ...any) {
	c.rep.Problems = append(c.rep.Problems, fmt.Sprintf(format, args...))
}

func (c *checker) wipe() {
	for _, d := range c.deks {
		d.key.Wipe()
	}
}

// structure runs bbolt's own page consistency check.
func (c *checker) structure() {
	n := 0
	var first error
	for err := range c.tx.Check() {
		if n == 0 {
			first = err
		}
		n++
	}
	if n > 0 {
		msg := first.Error()
		if len(msg) > 120 {
			msg = msg[:120] + "…"
		}
		c.problem("file structure: %d errors, first: %s", n, msg)
	}
}

// patients walks the directory and, per patient, its key, manifest,
// documents and cursors; then reports records no patient accounts for.
func (c *checker) patients(ctx context.Context) {
	seen := map[string]map[string]bool{bDir: {}, bKeys: {}, bMan: {}, bDoc: {}, bCur: {}}
	var ps []app.Patient
	dirB := c.tx.Bucket([]byte(bDir))
	_ = dirB.ForEach(func(key, val []byte) error {
		var p app.Patient
		if err := openJSON(c.k.dirA, bDir, key, kindDir, val, &p); err != nil {
			c.problem("%v", err)
			seen[bDir][string(key)] = true // reported already
			return nil
		}
		c.rep.Records++
		if string(c.bl.Blind(domDir, string(p.ID))) != string(key) {
			c.problem("dir: entry %x… is filed under another patient's key", key[:4])
			return nil
		}
		seen[bDir][string(key)] = true
		ps = append(ps, p)
		return nil
	})
	c.rep.Patients = len(ps)
	for _, p := range ps {
		if ctx.Err() != nil {
			return
		}
		c.patient(p.ID, seen)
	}
	// Global cursors, sealed with the directory key.
	gk := c.bl.Blind(domCur, "")
	if val := c.tx.Bucket([]byte(bCur)).Get(gk); val != nil {
		seen[bCur][string(gk)] = true
		var m map[string]app.Cursor
		if err := openJSON(c.k.dirA, bCur, gk, kindCur, val, &m); err != nil {
			c.problem("%v", err)
		} else {
			c.rep.Records++
		}
	}
	for _, n := range []string{bDir, bKeys, bMan, bDoc, bCur} {
		orphans, first := 0, []byte(nil)
		_ = c.tx.Bucket([]byte(n)).ForEach(func(key, _ []byte) error {
			if !seen[n][string(key)] {
				if orphans == 0 {
					first = append([]byte(nil), key...)
				}
				orphans++
			}
			return nil
		})
		if orphans > 0 {
			c.problem("%s: %d records belong to no patient of the directory (first %x…)", n, orphans, first[:min(4, len(first))])
		}
	}
	c.declarations(ps) // declared.go
	c.preop(ps)        // preop.go
}

func (c *checker) patient(id app.PatientID, seen map[string]map[string]bool) {
	kk := c.bl.Blind(domKey, string(id))
	w := c.tx.Bucket([]byte(bKeys)).Get(kk)
	if w == nil {
		c.problem("keys: a directory entry (%x…) has no data key", kk[:4])
		return
	}
	seen[bKeys][string(kk)] = true
	d, err := c.k.unwrapDEK(kk, w)
	if err != nil {
		c.problem("%v", err)
		return
	}
	c.deks[string(kk)] = d
	c.rep.Records++
	mk := c.bl.Blind(domMan, string(id))
	if val := c.tx.Bucket([]byte(bMan)).Get(mk); val != nil {
		seen[bMan][string(mk)] = true
		var m app.Manifest
		if err := openJSON(d.aead, bMan, mk, kindMan, val, &m); err != nil {
			c.problem("%v", err)
		} else {
			c.rep.Records++
			if m.Patient != id {
				c.problem("man: manifest %x… names another patient", mk[:4])
			}
			docs := c.tx.Bucket([]byte(bDoc))
			for _, doc := range m.Documents {
				dk := c.bl.Blind(domDoc, string(id), string(doc.ID))
				val := getBig(docs, dk)
				if val == nil {
					continue // listed, not cached
				}
				seen[bDoc][string(dk)] = true
				if _, err := open(d.aead, bDoc, dk, kindDoc, val); err != nil {
					c.problem("%v", err)
					continue
				}
				c.rep.Records++
				c.rep.Documents++
			}
		}
	}
	ck := c.bl.Blind(domCur, string(id))
	if val := c.tx.Bucket([]byte(bCur)).Get(ck); val != nil {
		seen[bCur][string(ck)] = true
		var m map[string]app.Cursor
		if err := openJSON(d.aead, bCur, ck, kindCur, val, &m); err != nil {
			c.problem("%v", err)
		} else {
			c.rep.Records++
		}
	}
}

func (c *checker) outbox() {
	_ = c.tx.Bucket([]byte(bOut)).ForEach(func(key, val []byte) error {
		var it app.OutboxItem
		if err := openJSON(c.k.outA, bOut, key, kindOut, val, &it); err != nil {
			c.problem("%v", err)
			return nil
		}
		if string(c.bl.Blind(domOut, string(it.ID))) != string(key) {
			c.problem("out: item %x… is filed under another item's key", key[:4])
		}
		c.rep.Records++
		c.rep.Outbox++
		return nil
	})
}

// settings opens the settings record; the audit head (same bucket) is
// checked with the chain.
func (c *checker) settings() {
	sk, hk, gk := c.bl.Blind(domSettings), c.bl.Blind(domHead), c.bl.Blind(domGaps)
	_ = c.tx.Bucket([]byte(bSet)).ForEach(func(key, val []byte) error {
		switch string(key) {
		case string(sk):
			var s app.Settings
			if err := openJSON(c.k.setA, bSet, key, kindSet, val, &s); err != nil {
				c.problem("%v", err)
			} else {
				c.rep.Records++
			}
		case string(hk), string(gk): // checkAudit
		default:
			c.problem("set: unknown record %x…", key[:min(4, len(key))])
		}
		return nil
	})
}
