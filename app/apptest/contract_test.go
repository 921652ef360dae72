package apptest_test

import (
	"testing"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/app/apptest"
	"github.com/carnetdesk/carnet/app/storetest"
)

// The fakes run the same contract as the vault (app/vault's
// TestStoreContract): a fake that drifts from the real store fails here.

func TestStoreContract(t *testing.T) {
	storetest.Run(t, func(*testing.T) app.Store { return apptest.NewStore() })
}

func TestMailStoreContract(t *testing.T) {
	storetest.RunMail(t, func(_ *testing.T, patients ...app.Patient) app.MailStore {
		return apptest.NewMailStore(patients...)
	})
}
