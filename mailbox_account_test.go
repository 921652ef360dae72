package main

import (
	"path/filepath"
	"reflect"
	"testing"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/sync/mailbox"
)

// TestMailboxAccount maps a mailbox of the connection to the adapter's
// account: read receipts need the setting and a submission server.
func TestMailboxAccount(t *testing.T) {
	base := app.MailAccount{Address: "dr@clinique.mssante.fr", Host: "imap.op.mssante.fr", Security: app.MailStartTLS, Auth: app.MailAuthLogin}
	cases := []struct {
		name       string
		edit       func(*app.MailAccount)
		submission *mailbox.Submission
		auth       mailbox.AuthMethod
	}{
		{"receipts off", func(m *app.MailAccount) { m.SMTPHost = "smtp.op.mssante.fr" }, nil, mailbox.AuthLogin},
		{"receipts on", func(m *app.MailAccount) { m.ReadReceipts, m.SMTPHost = true, "smtp.op.mssante.fr" },
			&mailbox.Submission{Host: "smtp.op.mssante.fr", Security: mailbox.StartTLS}, mailbox.AuthLogin},
		{"receipts on implicit", func(m *app.MailAccount) {
			m.ReadReceipts, m.SMTPHost, m.SMTPPort, m.SMTPSecurity, m.Auth = true, "smtp.op.mssante.fr", 465, app.MailImplicitTLS, app.MailAuthPlain
		}, &mailbox.Submission{Host: "smtp.op.mssante.fr", Port: 465, Security: mailbox.ImplicitTLS}, mailbox.AuthPlain},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := base
			tc.edit(&m)
			a, err := mailbox.AccountOf(m, app.MailCredentials{Secret: []byte("pw")})
			if err != nil {
				t.Fatal(err)
			}
			if a.Security != mailbox.StartTLS || a.Username != m.Address || a.Mailbox != "INBOX" || a.Auth != tc.auth || string(a.Password) != "pw" {
				t.Fatalf("account %+v", a)
			}
			if !reflect.DeepEqual(a.Submission, tc.submission) || a.ReadReceipts != (tc.submission != nil) {
				t.Fatalf("submission %+v receipts %v, want %+v", a.Submission, a.ReadReceipts, tc.submission)
			}
		})
	}
	m := base
	m.CAFile = filepath.Join(t.TempDir(), "missing.pem")
	if _, err := mailbox.AccountOf(m, app.MailCredentials{}); err == nil {
		t.Fatal("a missing CA file was accepted")
	}
}
