package vault

import (
	"testing"

	"go.etcd.io/bbolt"

	"github.com/carnetdesk/carnet/app"
)

// TestManifestClassCode: the class code of a document is kept, and a
// manifest written before documents had one (JSON without ClassCode) still
// opens, its documents unclassified.
func TestManifestClassCode(t *testing.T) {
	v, _ := newTestVault(t, testOptions())
	p := synthPatient(1)
	b := patientBatch(p, 2, 100)
	b.Manifests[0].Documents[0].ClassCode = app.ClassReport
	mustOK(t, v.Write(ctx, b))
	m, err := v.Manifest(ctx, p.ID)
	mustOK(t, err)
	if len(m.Documents) != 2 || m.Documents[0].ClassCode != app.ClassReport || m.Documents[1].ClassCode != "" {
		t.Fatalf("classes %q %q", m.Documents[0].ClassCode, m.Documents[1].ClassCode)
	}

	// The manifest as an older Carnet sealed it.
	legacy := `{"Patient":"` + string(p.ID) + `","Documents":[{"ID":"1.2.250.1.999.old","SetID":"","Version":1,"TypeCode":"11488-4",` +
		`"Title":"Ancien","Date":"2025-01-01T00:00:00Z","Author":"","Organisation":"","Confidentiality":"","MediaType":"text/xml",` +
		`"Size":0,"Hash":"","Source":"dmp","Cached":false,"Superseded":false,"RemoteID":"","VersionID":"","URL":"",` +
		`"Visibility":{},"LastUpdated":"0001-01-01T00:00:00Z"}],"CheckedAt":"2026-03-04T05:06:07Z"}`
	err = v.write("legacy manifest", func(tx *bbolt.Tx, k *keys) error {
		bl := k.blinder()
		d, err := k.patientKey(tx, bl, p.ID)
		if err != nil {
			return err
		}
		key := bl.Blind(domMan, string(p.ID))
		return tx.Bucket([]byte(bMan)).Put(key, seal(d.aead, bMan, key, kindMan, []byte(legacy)))
	})
	mustOK(t, err)
	m, err = v.Manifest(ctx, p.ID)
	mustOK(t, err)
	if len(m.Documents) != 1 || m.Documents[0].ID != "1.2.250.1.999.old" || m.Documents[0].TypeCode != "11488-4" || m.Documents[0].ClassCode != "" {
		t.Fatalf("legacy manifest read as %+v", m.Documents)
	}
}
