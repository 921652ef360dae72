package mailbox

import (
	"strings"
	"testing"

	"github.com/carnetdesk/carnet/sync/mailbox/mailtest"
)

// TestMessageViewer: what a person reads of a queued message — sender,
// subject, date, the text written, and every part with its content — for
// the usual MSSanté mail, a Latin-1 text, a forwarded message and hostile
// input.
func TestMessageViewer(t *testing.T) {
	pdf := []byte("%PDF-1.4 courrier")
	std := mailtest.XDMMail(mailtest.Header{Subject: "CR de biologie DUPONT", MessageID: "v1@labo"}, []byte("PK\x05\x06zip"), pdf)
	latin := []byte("From: Labo <labo@x.mssante.fr>\r\nSubject: =?iso-8859-1?q?R=E9sultats?=\r\nMessage-ID: <l@x>\r\n" +
		"Content-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nPatient n=E9e le 01/01/1980\r\n")
	fwd := mailtest.Message(mailtest.Header{Subject: "TR: CR", MessageID: "f@x"},
		mailtest.Multipart("mixed", mailtest.Text("Transféré."), mailtest.Forwarded(std)))
	v := MessageViewer{}
	for _, tc := range []struct {
		name    string
		raw     []byte
		subject string
		text    string
		types   []string
	}{
		{"standard", std, "CR de biologie DUPONT", "ci-joint le compte rendu", []string{"application/pdf", "application/zip"}},
		{"latin-1", latin, "Résultats", "Patient née le 01/01/1980", nil},
		{"forwarded", fwd, "TR: CR", "Transféré.", []string{"text/plain", "application/pdf", "application/zip"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := v.ReadMessage(tc.raw)
			if err != nil {
				t.Fatal(err)
			}
			if got.Subject != tc.subject || !strings.Contains(got.Text, tc.text) || got.From == "" {
				t.Fatalf("view %+v", got)
			}
			if len(got.Parts) != len(tc.types) {
				t.Fatalf("parts %+v, want %v", got.Parts, tc.types)
			}
			for i, p := range got.Parts {
				if p.MediaType != tc.types[i] || len(p.Content) == 0 || p.Section == "" {
					t.Errorf("part %d = %s %q (%d bytes)", i, p.MediaType, p.Section, len(p.Content))
				}
			}
		})
	}
	for name, raw := range map[string][]byte{
		"empty":        nil,
		"garbage":      []byte("\x00\x01\x02 not a mail"),
		"no boundary":  []byte("Content-Type: multipart/mixed\r\n\r\nbody"),
		"deep nesting": []byte(strings.Repeat("Content-Type: message/rfc822\r\n\r\n", 200) + "x"),
		"invalid utf8": []byte("Content-Type: text/plain; charset=utf-8\r\n\r\n\xff\xfe"),
	} {
		got, err := v.ReadMessage(raw)
		if err == nil && len(got.Text) > maxViewText+4 {
			t.Errorf("%s: text of %d bytes", name, len(got.Text))
		}
	}
}

// FuzzMessageViewer: arbitrary bytes never panic the viewer, and its text
// is valid UTF-8 within its bound.
func FuzzMessageViewer(f *testing.F) {
	f.Add(mailtest.XDMMail(mailtest.Header{Subject: "s", MessageID: "a@b"}, []byte("PK\x05\x06"), []byte("%PDF")))
	f.Add([]byte("Content-Type: text/plain\r\n\r\nhello"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		got, err := MessageViewer{}.ReadMessage(raw)
		if err != nil {
			return
		}
		if len(got.Text) > maxViewText+4 || !strings.EqualFold(strings.ToValidUTF8(got.Text, "?"), got.Text) {
			t.Fatalf("text %q", got.Text)
		}
	})
}
