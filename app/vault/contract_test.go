package vault

import (
	"path/filepath"
	"testing"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/app/storetest"
)

// TestStoreContract runs the app.Store contract, shared with the fakes of
// app/apptest, on a real vault file.
func TestStoreContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) app.Store {
		v, err := Open(filepath.Join(t.TempDir(), "carnet.vault"), testOptions())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { v.Close() })
		return v
	})
}

// TestMailStoreContract runs the app.MailStore contract on a real vault
// file whose directory holds the patients.
func TestMailStoreContract(t *testing.T) {
	storetest.RunMail(t, func(t *testing.T, patients ...app.Patient) app.MailStore {
		v, _ := newTestVault(t, testOptions())
		if err := v.Write(ctx, &app.Batch{Patients: patients}); err != nil {
			t.Fatal(err)
		}
		return v
	})
}
