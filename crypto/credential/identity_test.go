package credential_test

import (
	"crypto/x509/pkix"
	"encoding/asn1"
	"reflect"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/carnetdesk/carnet/crypto/credential"
)

// subject builds a parsed subject name (fields and Names filled, as
// x509.ParseCertificate does) from attribute type/value pairs.
func subject(attrs ...any) pkix.Name {
	var seq pkix.RDNSequence
	for i := 0; i+1 < len(attrs); i += 2 {
		seq = append(seq, pkix.RelativeDistinguishedNameSET{{Type: attrs[i].(asn1.ObjectIdentifier), Value: attrs[i+1]}})
	}
	var n pkix.Name
	n.FillFromRDNSequence(&seq)
	return n
}

var (
	oidCN     = asn1.ObjectIdentifier{2, 5, 4, 3}
	oidSerial = asn1.ObjectIdentifier{2, 5, 4, 5}
	oidO      = asn1.ObjectIdentifier{2, 5, 4, 10}
	oidOU     = asn1.ObjectIdentifier{2, 5, 4, 11}
)

func TestIdentityFromName(t *testing.T) {
	med := credential.Code{Code: "10", System: credential.SystemProfession, Display: "Médecin"}
	for _, tc := range []struct {
		name string
		in   pkix.Name
		want credential.Identity
	}{
		{"empty", pkix.Name{}, credential.Identity{}},
		{"id and name in CN", subject(oidCN, "810001234567/Jean DUPONT"),
			credential.Identity{RPPS: "810001234567", Name: "Jean DUPONT"}},
		{"id first word of CN", subject(oidCN, "810001234567 Jean DUPONT"),
			credential.Identity{RPPS: "810001234567", Name: "Jean DUPONT"}},
		{"CN only an id, GN and SN", subject(oidCN, "810001234567", credential.OIDGivenName, "Jean", credential.OIDSurname, "DUPONT"),
			credential.Identity{RPPS: "810001234567", Name: "Jean DUPONT", GivenName: "Jean", Surname: "DUPONT"}},
		{"bare RPPS in serialNumber", subject(oidSerial, "10001234567", oidCN, "Dr Jean Dupont"),
			credential.Identity{RPPS: "810001234567", Name: "Dr Jean Dupont"}},
		{"serialNumber wins over CN", subject(oidSerial, "899700218096", oidCN, "810001234567/X"),
			credential.Identity{RPPS: "899700218096", Name: "X"}},
		{"ADELI in UID, Corsica", subject(credential.OIDUID, "02A1234567", oidCN, "02A1234567 Paul"),
			credential.Identity{RPPS: "02A1234567", Name: "Paul"}},
		{"structure employee id kept verbatim", subject(oidSerial, "3123456789/0042"),
			credential.Identity{RPPS: "3123456789/0042"}},
		{"title label", subject(credential.OIDTitle, "Médecin"), credential.Identity{Profession: med}},
		{"title label upper, no accent", subject(credential.OIDTitle, "CHIRURGIEN DENTISTE"),
			credential.Identity{Profession: credential.Code{Code: "40", System: credential.SystemProfession, Display: "Chirurgien-Dentiste"}}},
		{"title G15 with specialty", subject(credential.OIDTitle, "G15_10/SM26"),
			credential.Identity{Profession: med, Specialty: credential.Code{Code: "SM26", System: credential.SystemSpecialty}}},
		{"title unknown label", subject(credential.OIDTitle, "Pharmacien hospitalier"),
			credential.Identity{Profession: credential.Code{Display: "Pharmacien hospitalier"}}},
		{"title unknown code", subject(credential.OIDTitle, "99"),
			credential.Identity{Profession: credential.Code{Code: "99", System: credential.SystemProfession}}},
		{"title specialty only", subject(credential.OIDTitle, "/SM54"),
			credential.Identity{Specialty: credential.Code{Code: "SM54", System: credential.SystemSpecialty}}},
		{"title trailing slash", subject(credential.OIDTitle, "10/ "), credential.Identity{Profession: med}},
		{"title slashes only", subject(credential.OIDTitle, "///"), credential.Identity{Specialty: credential.Code{Code: "//", System: credential.SystemSpecialty}}},
		{"OU: the id one", subject(oidOU, "Service de cardiologie", oidOU, "10B0123456", oidO, "Clinique"),
			credential.Identity{Structure: credential.Structure{ID: "10B0123456", Name: "Clinique"}}},
		{"OU: no id-like value", subject(oidOU, "Pôle urgences"),
			credential.Identity{Structure: credential.Structure{ID: "Pôle urgences"}}},
		{"first non-empty O", subject(oidO, "  ", oidO, "Centre hospitalier"),
			credential.Identity{Structure: credential.Structure{Name: "Centre hospitalier"}}},
		{"control characters and spaces", subject(oidCN, "  Jean\n\tDUPONT\x00 \u200b"),
			credential.Identity{Name: "Jean DUPONT"}},
		{"invalid UTF-8", subject(oidO, "Clinique \xff\xfe"),
			credential.Identity{Structure: credential.Structure{Name: "Clinique \uFFFD"}}},
		{"roles", subject(credential.OIDBusinessCategory, "regulation", credential.OIDBusinessCategory, " "),
			credential.Identity{Roles: []string{"regulation"}}},
		{"non-string values ignored", subject(credential.OIDTitle, 10, credential.OIDGivenName, []byte("x")),
			credential.Identity{}},
		{"CN only separators", subject(oidCN, "/ / |;"), credential.Identity{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := credential.IdentityFromName(tc.in)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("\n got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestIdentityLongField(t *testing.T) {
	got := credential.IdentityFromName(subject(oidCN, strings.Repeat("é", 10000)))
	if n := utf8.RuneCountInString(got.Name); n != 256 {
		t.Errorf("name of %d runes, want it cut at 256", n)
	}
}

func TestParseIdentityNil(t *testing.T) {
	if got := credential.ParseIdentity(nil); !reflect.DeepEqual(got, credential.Identity{}) {
		t.Errorf("ParseIdentity(nil) = %+v", got)
	}
}

func TestSubjectForRoundTrip(t *testing.T) {
	for _, id := range []credential.Identity{
		drDupont,
		{RPPS: "810009999999", Name: "Ana Lúcia N'DIAYE-LE GALL", Profession: credential.Code{Code: "60", System: credential.SystemProfession, Display: "Infirmier"}},
		{},
	} {
		// Through DER, as a certificate carries it.
		der, err := asn1.Marshal(credential.SubjectFor(id).ToRDNSequence())
		if err != nil {
			t.Fatal(err)
		}
		var seq pkix.RDNSequence
		if _, err := asn1.Unmarshal(der, &seq); err != nil {
			t.Fatal(err)
		}
		var n pkix.Name
		n.FillFromRDNSequence(&seq)
		if got := credential.IdentityFromName(n); !reflect.DeepEqual(got, id) {
			t.Errorf("\n got %+v\nwant %+v", got, id)
		}
	}
}

// checkClean asserts the invariants of every parsed field: valid UTF-8, no
// control characters, bounded.
func checkClean(t *testing.T, id credential.Identity) {
	t.Helper()
	fields := []string{id.RPPS, id.Name, id.GivenName, id.Surname, id.Profession.Code, id.Profession.Display,
		id.Specialty.Code, id.Structure.ID, id.Structure.Name}
	fields = append(fields, id.Roles...)
	for _, f := range fields {
		if !utf8.ValidString(f) || utf8.RuneCountInString(f) > 2*256+1 || f != strings.TrimSpace(f) {
			t.Fatalf("unclean field %q", f)
		}
		for _, r := range f {
			if unicode.IsControl(r) {
				t.Fatalf("control character in %q", f)
			}
		}
	}
}

// FuzzParseIdentity feeds arbitrary subject strings to the parser: no
// panic, and every field clean.
func FuzzParseIdentity(f *testing.F) {
	f.Add("810001234567/Jean DUPONT", "", "G15_10/SM26", "10B0123456", "Clinique", "Jean", "DUPONT")
	f.Add("", "10001234567", "Médecin", "", "", "", "")
	f.Add("02A1234567 Paul", "", "/", "Pôle", "\xff", "\x00", "   ")
	f.Fuzz(func(t *testing.T, cn, serial, title, ou, o, gn, sn string) {
		n := subject(oidCN, cn, oidSerial, serial, credential.OIDTitle, title, oidOU, ou, oidO, o,
			credential.OIDGivenName, gn, credential.OIDSurname, sn, credential.OIDBusinessCategory, title)
		checkClean(t, credential.IdentityFromName(n))
	})
}

// FuzzParseIdentityDER feeds arbitrary DER as a subject: whatever asn1
// accepts as an RDNSequence must parse without panic.
func FuzzParseIdentityDER(f *testing.F) {
	der, _ := asn1.Marshal(credential.SubjectFor(drDupont).ToRDNSequence())
	f.Add(der)
	f.Fuzz(func(t *testing.T, der []byte) {
		var seq pkix.RDNSequence
		if _, err := asn1.Unmarshal(der, &seq); err != nil {
			return
		}
		var n pkix.Name
		n.FillFromRDNSequence(&seq)
		checkClean(t, credential.IdentityFromName(n))
	})
}
