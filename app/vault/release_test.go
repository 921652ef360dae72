package vault

import (
	"bytes"
	"testing"
	"time"

	"github.com/carnetdesk/carnet/app"
)

// TestWriteReleasing: WriteReleasing stores what Write stores (the raw
// message and the document, read back after a reopen) and lets go of the
// batch's plaintext bytes once sealed; Write leaves its batch untouched.
func TestWriteReleasing(t *testing.T) {
	opt := testOptions()
	v, path := newTestVault(t, opt)
	p := app.Patient{ID: "p1", BirthName: "DUPONT"}
	mustOK(t, v.Write(ctx, &app.Batch{Patients: []app.Patient{p}}))
	at := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	raw := bytes.Repeat([]byte("raw message "), 4000) // over bigThreshold: its own bucket
	doc := bytes.Repeat([]byte("<cda/>"), 5000)

	kept := mailBatch("mid:kept@labo", 1, append([]byte(nil), raw...), app.OutcomeFiled, at)
	kept.Documents = []app.DocumentContent{{Patient: p.ID, ID: "d-kept", Bytes: append([]byte(nil), doc...)}}
	kept.Manifests = []app.Manifest{{Patient: p.ID, Documents: []app.DocumentMeta{{ID: "d-kept"}}}}
	mustOK(t, v.Write(ctx, kept))
	if kept.MailRaw[0].Bytes == nil || kept.Documents[0].Bytes == nil {
		t.Fatal("Write let go of its batch's bytes")
	}

	b := mailBatch("mid:rel@labo", 2, append([]byte(nil), raw...), app.OutcomeFiled, at)
	b.Documents = []app.DocumentContent{{Patient: p.ID, ID: "d-rel", Bytes: append([]byte(nil), doc...)}}
	b.Manifests = []app.Manifest{{Patient: p.ID, Documents: []app.DocumentMeta{{ID: "d-kept"}, {ID: "d-rel"}}}}
	mustOK(t, v.WriteReleasing(ctx, b))
	if b.MailRaw[0].Bytes != nil || b.Documents[0].Bytes != nil {
		t.Fatal("WriteReleasing kept the plaintext in the batch")
	}

	v = reopen(t, v, path, opt, testPass)
	for _, k := range []string{"mid:kept@labo", "mid:rel@labo"} {
		r, err := v.RawMessage(ctx, k)
		mustOK(t, err)
		if !bytes.Equal(r.Bytes, raw) {
			t.Fatalf("raw %s: %d bytes back", k, len(r.Bytes))
		}
	}
	for _, id := range []app.DocumentID{"d-kept", "d-rel"} {
		got, err := v.Document(ctx, p.ID, id)
		mustOK(t, err)
		if !bytes.Equal(got, doc) {
			t.Fatalf("document %s: %d bytes back", id, len(got))
		}
	}
	checkOK(t, v)
}
