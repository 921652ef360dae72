package dmptest

import (
	"testing"
	"time"
)

// TestServiceTimeParams: FindDocuments' time parameters as ITI TF-2a
// defines them — From is "≥", To is "<", and an entry without the time
// attribute a parameter is about does not match it.
func TestServiceTimeParams(t *testing.T) {
	at := func(s string) time.Time { v, _ := parseHL7(s); return v }
	start, stop := at("20240101"), at("20261201")
	for _, c := range []struct {
		param, value string
		noStop       bool
		want         bool
	}{
		{"$XDSDocumentEntryServiceStartTimeFrom", "20241206", false, false},
		{"$XDSDocumentEntryServiceStartTimeFrom", "20240101", false, true},
		{"$XDSDocumentEntryServiceStartTimeTo", "20240101", false, false},
		{"$XDSDocumentEntryServiceStartTimeTo", "20240102", false, true},
		{"$XDSDocumentEntryServiceStopTimeFrom", "20241206", false, true},
		{"$XDSDocumentEntryServiceStopTimeFrom", "20241206", true, false}, // no stop time: no match
		{"$XDSDocumentEntryServiceStopTimeTo", "20261201", false, false},
		{"$XDSDocumentEntryServiceStopTimeTo", "2027", false, true},
		{"$XDSDocumentEntryServiceStopTimeTo", "2027", true, false},
	} {
		var tp timeParam
		for _, p := range serviceTimeParams {
			if p.name == c.param {
				tp = timeParam{p.name, p.stop, p.from, at(c.value)}
			}
		}
		if tp.name == "" || tp.t.IsZero() {
			t.Fatalf("%s %s: bad case", c.param, c.value)
		}
		st := stop
		if c.noStop {
			st = time.Time{}
		}
		if got := tp.match(start, st); got != c.want {
			t.Errorf("%s=%s on [%v, %v]: %v, want %v", c.param, c.value, start, st, got, c.want)
		}
	}
	for _, bad := range []string{"", "2024-01-01", "202401011", "20241301", "2024010112345678", "abcd"} {
		if _, err := parseHL7(bad); err == nil {
			t.Errorf("parseHL7(%q) accepted", bad)
		}
	}
}
