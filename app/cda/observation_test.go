package cda

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/carnetdesk/carnet/app"
)

// TestObservationsSamples: the numeric results of the ANS samples are read
// with code, value, unit and date: the TSH of the BIO-CR-BIO laboratory
// report, the weight and height of the ANEST-CR-CPA vital signs.
func TestObservationsSamples(t *testing.T) {
	bio, err := Reader{}.Read(readSample(t, "BIO-CR-BIO_2024.01_TSH_1.xml"), app.DocumentMeta{})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, o := range bio.Observations {
		if o.Code.Code == "3016-3" {
			found = true
			if o.Value != 1.95 || o.Unit != "m[IU]/L" || o.Code.System != app.SystemLOINC || o.Date.IsZero() ||
				!o.Date.Equal(time.Date(2014, 4, 2, 14, 55, 21, 0, time.FixedZone("", 2*3600))) {
				t.Errorf("TSH read as %+v", o)
			}
		}
	}
	if !found {
		t.Errorf("no TSH among %d observations", len(bio.Observations))
	}
	anest, err := Reader{}.Read(readSample(t, "ANEST-CR-CPA_2022.01.xml"), app.DocumentMeta{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]app.Observation{}
	for _, o := range anest.Observations {
		got[o.Code.Code] = o
	}
	if w := got["29463-7"]; w.Value != 59 || w.Unit != "kg" {
		t.Errorf("weight read as %+v (observations %d)", w, len(anest.Observations))
	}
	if h := got["8302-2"]; h.Value != 176 || h.Unit != "cm" {
		t.Errorf("height read as %+v", h)
	}
}

// TestObservationsHostile: a numeric result is kept only when it is one:
// finite, of sane magnitude, not negated, an event; a strange unit is
// dropped, not the value; too many are bounded.
func TestObservationsHostile(t *testing.T) {
	obs := func(attrs, value string) string {
		return `<observation classCode="OBS" ` + attrs + `><code code="14682-9" codeSystem="2.16.840.1.113883.6.1"/>` +
			`<effectiveTime value="20261201"/>` + value + `</observation>`
	}
	for _, c := range []struct {
		name  string
		entry string
		want  int
		value float64
		unit  string
	}{
		{"plain", obs(`moodCode="EVN"`, `<value xsi:type="PQ" value="85" unit="umol/L"/>`), 1, 85, "umol/L"},
		{"no mood", obs(``, `<value xsi:type="PQ" value=" 1.2 " unit="mg/dL"/>`), 1, 1.2, "mg/dL"},
		{"comma", obs(`moodCode="EVN"`, `<value xsi:type="PQ" value="0,9" unit="mg/dL"/>`), 1, 0.9, "mg/dL"},
		{"NaN", obs(`moodCode="EVN"`, `<value xsi:type="PQ" value="NaN" unit="umol/L"/>`), 0, 0, ""},
		{"Inf", obs(`moodCode="EVN"`, `<value xsi:type="PQ" value="+Inf" unit="umol/L"/>`), 0, 0, ""},
		{"huge", obs(`moodCode="EVN"`, `<value xsi:type="PQ" value="1e300" unit="umol/L"/>`), 0, 0, ""},
		{"hex", obs(`moodCode="EVN"`, `<value xsi:type="PQ" value="0x1p4" unit="umol/L"/>`), 1, 16, "umol/L"},
		{"empty", obs(`moodCode="EVN"`, `<value xsi:type="PQ" value="" unit="umol/L"/>`), 0, 0, ""},
		{"null flavor", obs(`moodCode="EVN"`, `<value xsi:type="PQ" nullFlavor="UNK"/>`), 0, 0, ""},
		{"negated", obs(`moodCode="EVN" negationInd="true"`, `<value xsi:type="PQ" value="85" unit="umol/L"/>`), 0, 0, ""},
		{"intended", obs(`moodCode="INT"`, `<value xsi:type="PQ" value="85" unit="umol/L"/>`), 0, 0, ""},
		{"goal", obs(`moodCode="GOL"`, `<value xsi:type="PQ" value="85" unit="umol/L"/>`), 0, 0, ""},
		{"coded value", obs(`moodCode="EVN"`, `<value xsi:type="CD" code="85"/>`), 0, 0, ""},
		{"control unit", obs(`moodCode="EVN"`, `<value xsi:type="PQ" value="85" unit="u&#x202E;L/lomu"/>`), 1, 85, ""},
		{"long unit", obs(`moodCode="EVN"`, `<value xsi:type="PQ" value="85" unit="`+strings.Repeat("u", 41)+`"/>`), 1, 85, ""},
		{"inside a negated organizer", `<organizer negationInd="true"><component>` + obs(`moodCode="EVN"`, `<value xsi:type="PQ" value="85" unit="umol/L"/>`) + `</component></organizer>`, 0, 0, ""},
	} {
		d, err := ParseBytes([]byte(entries("", `<entry>`+c.entry+`</entry>`)), Options{})
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if len(d.Observations) != c.want {
			t.Errorf("%s: %d observations, want %d", c.name, len(d.Observations), c.want)
			continue
		}
		if c.want == 1 {
			o := d.Observations[0]
			if math.Abs(o.Value-c.value) > 1e-9 || o.Unit != c.unit || o.Date.IsZero() {
				t.Errorf("%s: read %+v", c.name, o)
			}
		}
	}
	// bounded
	many := strings.Repeat(`<entry>`+obs(`moodCode="EVN"`, `<value xsi:type="PQ" value="85" unit="umol/L"/>`)+`</entry>`, maxObservations+10)
	d, err := ParseBytes([]byte(entries("", many)), Options{MaxElements: 1 << 20})
	var pe *ParseError
	if err != nil && !errors.As(err, &pe) {
		t.Fatal(err)
	}
	if err == nil && len(d.Observations) != maxObservations {
		t.Errorf("%d observations kept, want the limit %d", len(d.Observations), maxObservations)
	}
}

// FuzzObservations feeds arbitrary PQ values and units to the reader: a
// kept observation is always finite, of sane magnitude, with a short
// printable unit.
func FuzzObservations(f *testing.F) {
	for _, s := range [][2]string{{"85", "umol/L"}, {"1,2", "mg/dL"}, {"NaN", ""}, {"-0", "kg"}, {"1e8", "g"}, {"", "\x00"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, v, u string) {
		e := `<observation moodCode="EVN"><code code="29463-7" codeSystem="2.16.840.1.113883.6.1"/><value xsi:type="PQ" value="` +
			xmlEscape(v) + `" unit="` + xmlEscape(u) + `"/></observation>`
		d, err := ParseBytes([]byte(entries("", `<entry>`+e+`</entry>`)), Options{})
		if err != nil {
			return
		}
		for _, o := range d.Observations {
			if math.IsNaN(o.Value) || math.IsInf(o.Value, 0) || math.Abs(o.Value) >= 1e9 || len([]rune(o.Unit)) > maxUnit {
				t.Errorf("observation kept: %+v", o)
			}
		}
	})
}

func xmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;").Replace(s)
}
