package xds

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/carnetdesk/carnet/app"
)

var messageIDRE = regexp.MustCompile(`<wsa:MessageID>([^<]+)</wsa:MessageID>`)

// Transport-level answers of a registry: each classified, nothing kept.
func TestClientAnswers(t *testing.T) {
	soap := func(relates, body string) string {
		return `<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:a="http://www.w3.org/2005/08/addressing"><s:Header><a:Action s:mustUnderstand="true">` +
			ActionRegistryStoredQueryResponse + `</a:Action><a:RelatesTo>` + relates + `</a:RelatesTo></s:Header><s:Body>` + body + `</s:Body></s:Envelope>`
	}
	ok := `<query:AdhocQueryResponse xmlns:query="urn:oasis:names:tc:ebxml-regrep:xsd:query:3.0" status="urn:oasis:names:tc:ebxml-regrep:ResponseStatusType:Success"/>`
	cases := []struct {
		name   string
		status int
		ctype  string
		header map[string]string
		body   func(id string) string
		want   error
	}{
		{"success", 200, "application/soap+xml", nil, func(id string) string { return soap(id, ok) }, nil},
		{"500 SOAP fault", 500, "application/soap+xml", nil, func(id string) string {
			return soap(id, `<s:Fault><s:Code><s:Value>s:Receiver</s:Value></s:Code><s:Reason><s:Text xml:lang="fr">erreur</s:Text></s:Reason></s:Fault>`)
		}, app.ErrServer},
		{"500 SOAP denial", 500, "application/soap+xml", nil, func(id string) string {
			return soap(id, `<s:Fault><s:Code><s:Value>s:Sender</s:Value><s:Subcode><s:Value>dmp:ACCES_REFUSE.blocked</s:Value></s:Subcode></s:Code><s:Reason><s:Text xml:lang="fr">refus</s:Text></s:Reason></s:Fault>`)
		}, &app.AccessError{Reason: app.DeniedBlocked}},
		{"500 HTML", 500, "text/html", nil, func(string) string { return "<html>oops</html>" }, app.ErrServer},
		{"503 Retry-After", 503, "text/plain", map[string]string{"Retry-After": "7"}, func(string) string { return "busy" }, app.ErrThrottled},
		{"403", 403, "text/plain", nil, func(string) string { return "no" }, app.ErrAccessDenied},
		{"other RelatesTo", 200, "application/soap+xml", nil, func(string) string { return soap("urn:uuid:other", ok) }, app.ErrServer},
		{"200 fault", 200, "application/soap+xml", nil, func(id string) string {
			return soap(id, `<s:Fault><s:Code><s:Value>s:Receiver</s:Value></s:Code></s:Fault>`)
		}, app.ErrServer},
		{"partial success", 200, "application/soap+xml", nil, func(id string) string {
			return soap(id, `<query:AdhocQueryResponse xmlns:query="urn:oasis:names:tc:ebxml-regrep:xsd:query:3.0" xmlns:rs="urn:oasis:names:tc:ebxml-regrep:xsd:rs:3.0" status="urn:ihe:iti:2007:ResponseStatusType:PartialSuccess"><rs:RegistryErrorList><rs:RegistryError errorCode="XDSRegistryError" severity="urn:oasis:names:tc:ebxml-regrep:ErrorSeverityType:Error"/></rs:RegistryErrorList></query:AdhocQueryResponse>`)
		}, app.ErrServer},
		{"DOCTYPE", 200, "application/soap+xml", nil, func(id string) string { return `<!DOCTYPE s [<!ENTITY x "y">]>` + soap(id, ok) }, ErrHostileXML},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				b, _ := io.ReadAll(r.Body)
				m := messageIDRE.FindSubmatch(b)
				if m == nil {
					t.Error("no MessageID")
					return
				}
				w.Header().Set("Content-Type", c.ctype)
				for k, v := range c.header {
					w.Header().Set(k, v)
				}
				w.WriteHeader(c.status)
				_, _ = io.WriteString(w, c.body(string(m[1])))
			}))
			defer srv.Close()
			s, _, _ := testSigner(t)
			cl, err := New(Config{BaseURL: srv.URL, HTTP: srv.Client(), Signer: s, SourceOID: "1.2.3",
				Software: Software{Name: "Carnet", Homologation: "X"}})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			called := false
			err = cl.ListDocuments(ctx, app.Access{Practitioner: testPractitioner, Mode: app.AccessNormal}, testINS, app.DocumentQuery{},
				func([]app.RemoteDocument) error { called = true; return nil })
			switch want := c.want.(type) {
			case nil:
				if err != nil || !called {
					t.Fatalf("got %v", err)
				}
			case *app.AccessError:
				if app.Denial(err) != want.Reason {
					t.Fatalf("got %v, want %v", err, want)
				}
			default:
				if !errors.Is(err, want) || called {
					t.Fatalf("got %v (page called %v), want %v", err, called, want)
				}
			}
			if c.name == "503 Retry-After" {
				var we *app.WaitError
				if !errors.As(err, &we) || we.Wait != 7*time.Second {
					t.Fatalf("no wait: %v", err)
				}
			}
			if err != nil && strings.Contains(err.Error(), testINS.Matricule) {
				t.Fatal("the INS leaks into the error")
			}
		})
	}
}
