package vault

import (
	"fmt"

	"go.etcd.io/bbolt"

	"github.com/carnetdesk/carnet/app"
)

// Re-validation (offline-crypto.md §7.4): when the central service has not
// confirmed a patient's access for Settings.RevalidationDays
// (app.Patient.Revalidated, set by the sync engine), the patient's manifest
// and documents are refused with an *app.AccessError whose reason is
// app.DeniedRevalidation, until a sync confirms access again. The identity
// stays in the directory (the UI says why the record is closed), cursors
// and the outbox stay readable (the engine needs them to re-validate). The
// rule is enforced here, below every use case, so that no screen can
// forget it. A patient the engine never checked (zero Revalidated) is not
// restricted.

// readable checks the re-validation rule for patient id; op names the
// operation in the error.
func (v *Vault) readable(op string, id app.PatientID) error {
	days := int(v.revalidationDays.Load())
	if days <= 0 {
		return nil
	}
	v.dirMu.RLock()
	var p app.Patient
	ok := false
	if v.dir != nil {
		p, ok = v.dir.Get(id)
	}
	v.dirMu.RUnlock()
	if ok && app.RevalidationDue(p, days, v.opt.Clock.Now()) {
		return fmt.Errorf("vault: %s: %w", op, &app.AccessError{Reason: app.DeniedRevalidation})
	}
	return nil
}

// loadPolicy reads the settings the vault itself enforces (re-validation)
// after an unlock. The caller holds v.mu and the vault is unlocked.
func (v *Vault) loadPolicy(k *keys) {
	s := app.DefaultSettings()
	err := v.view(v.db, func(tx *bbolt.Tx) error {
		b, err := bucket(tx, bSet)
		if err != nil {
			return err
		}
		key := k.blinder().Blind(domSettings)
		if val := b.Get(key); val != nil {
			return openJSON(k.setA, bSet, key, kindSet, val, &s)
		}
		return nil
	})
	if err != nil {
		v.log.Warn("vault: settings unreadable; default re-validation applies", "err", err)
		s = app.DefaultSettings()
	}
	v.revalidationDays.Store(int64(s.RevalidationDays))
}
