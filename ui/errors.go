package ui

import (
	"errors"
	"log/slog"
	"time"

	"github.com/carnetdesk/carnet/app"
)

// errorKeys maps each error kind to the key of its message.
var errorKeys = map[error]string{
	app.ErrLocked:          "error.locked",
	app.ErrNoVault:         "error.no-vault",
	app.ErrVaultExists:     "error.vault-exists",
	app.ErrWrongPassphrase: "error.wrong-passphrase",
	app.ErrTooManyAttempts: "error.too-many-attempts",
	app.ErrWeakPassphrase:  "error.weak-passphrase",
	app.ErrDamaged:         "error.damaged",
	app.ErrNewerFormat:     "error.newer-format",
	app.ErrInUse:           "error.in-use",
	app.ErrNotFound:        "error.not-found",
	app.ErrInvalid:         "error.invalid",
	app.ErrOffline:         "error.offline",
	app.ErrAccessDenied:    "error.access-denied",
	app.ErrConflict:        "error.conflict",
	app.ErrNoSpace:         "error.no-space",
	app.ErrInsecureFile:    "error.insecure-file",
	app.ErrPrivateKey:      "error.private-key",
	app.ErrWithdrawn:       "error.withdrawn",
	app.ErrThrottled:       "error.throttled",
	app.ErrServer:          "error.server",
	app.ErrIntegrity:       "error.integrity",
	app.ErrCredential:      "error.credential",
	app.ErrDeviceSecret:    "error.device-secret",
	app.ErrNotConfigured:   "error.not-configured",
	app.ErrOlderVault:      "error.older-vault",
	app.ErrReadOnly:        "error.read-only",
	app.ErrCardModule:      "error.card-module",
}

// denialKeys maps each reason the central service gives for a refusal to
// its message: blocked, closed and unauthorised are distinct screens, never
// "error 403".
var denialKeys = map[app.DenialReason]string{
	app.DeniedBlocked:         "error.denied.blocked",
	app.DeniedNoAuthorization: "error.denied.no_authorization",
	app.DeniedClosed:          "error.denied.closed",
	app.DeniedNoRecord:        "error.denied.no_record",
	app.DeniedProfession:      "error.denied.profession",
	app.DeniedJustification:   "error.denied.justification",
	app.DeniedNotRegulator:    "error.denied.not_regulator",
	app.DeniedNotAuthor:       "error.denied.not_author",
	app.DeniedNotQualified:    "error.denied.not_qualified",
	app.DeniedOther:           "error.denied.other",
}

// undoKeys maps each reason an attach can no longer be undone to its
// message.
var undoKeys = map[app.UndoRefusal]string{
	app.UndoPushed:   "error.undo.pushed",
	app.UndoReplaced: "error.undo.replaced",
}

// message turns err into a sentence for the user, in the current language.
// It is the only place where error kinds become words: the raw error is
// never shown. An error of no known kind is an internal error: it is logged
// (error strings carry no health data) and shown as such.
func message(err error) string {
	if err == nil {
		return ""
	}
	var w *app.WaitError
	if errors.As(err, &w) {
		key := "error.wait"
		if errors.Is(err, app.ErrThrottled) {
			key = "error.throttled-wait"
		}
		return tr(key, map[string]any{"Seconds": seconds(w.Wait)})
	}
	var pe *app.PINError
	if errors.As(err, &pe) {
		return pinMessage(pe)
	}
	var ue *app.UndoError
	if errors.As(err, &ue) {
		if key, ok := undoKeys[ue.Reason]; ok {
			return tr(key)
		}
	}
	if key, ok := denialKeys[app.Denial(err)]; ok {
		return tr(key)
	}
	if key, ok := errorKeys[app.KindOf(err)]; ok {
		return tr(key)
	}
	slog.Error("internal error", "err", err)
	return tr("error.internal")
}

// seconds rounds d up to whole seconds, at least 1.
func seconds(d time.Duration) int {
	s := int((d + time.Second - 1) / time.Second)
	return max(s, 1)
}

// pinMessage says what the card said of the PIN.
func pinMessage(pe *app.PINError) string {
	switch {
	case pe.Empty:
		return tr("vigilance.pin.empty")
	case pe.Locked:
		return tr("vigilance.pin.locked")
	case pe.TriesLeft == 1:
		return tr("vigilance.pin.final")
	case pe.TriesLeft > 1:
		return tr("vigilance.pin.tries", map[string]any{"N": pe.TriesLeft})
	}
	return tr("vigilance.pin.wrong")
}
