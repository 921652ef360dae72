package app

import (
	"errors"
	"strings"
	"testing"
)

func TestParseINS(t *testing.T) {
	tests := []struct {
		name, matricule, oid string
		ok                   bool
	}{
		{"valid NIR", "279035121518989", OIDINSNIR, true},
		{"valid with spaces", "2 79 03 51 215 189 89", OIDINSNIR, true},
		{"valid test OID", "279035121518989", OIDINSNIRTest, true},
		{"valid Corsica 2A", "185072A00101394", OIDINSNIR, true},
		{"valid Corsica 2B", "185072B00101324", OIDINSNIR, true},
		{"wrong key", "279035121518988", OIDINSNIR, false},
		{"too short", "27903512151898", OIDINSNIR, false},
		{"too long", "2790351215189890", OIDINSNIR, false},
		{"letters", "27903512151X989", OIDINSNIR, false},
		{"unknown OID", "279035121518989", "1.2.3", false},
		{"empty", "", OIDINSNIR, false},
		{"non-numeric key", "2790351215189AB", OIDINSNIR, false},
		{"negative sign", "-79035121518989", OIDINSNIR, false},
		{"unicode digits", "２79035121518989", OIDINSNIR, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ins, err := ParseINS(tc.matricule, tc.oid)
			if tc.ok != (err == nil) {
				t.Fatalf("ParseINS(%q, %q) = %v, %v; want ok=%v", tc.matricule, tc.oid, ins, err, tc.ok)
			}
			if err != nil {
				if !errors.Is(err, ErrInvalid) {
					t.Errorf("error %v does not wrap ErrInvalid", err)
				}
				if tc.matricule != "" && strings.Contains(err.Error(), tc.matricule) {
					t.Errorf("error %q repeats the matricule", err)
				}
			}
		})
	}
}

func TestINSKey(t *testing.T) {
	for _, body := range []string{"2790351215189", "185072A001013", "185072B001013", "1000000000000"} {
		key, err := INSKey(body)
		if err != nil {
			t.Fatalf("INSKey(%q): %v", body, err)
		}
		if _, err := ParseINS(body+key, OIDINSNIR); err != nil {
			t.Errorf("INSKey(%q) = %s does not validate: %v", body, key, err)
		}
	}
	if _, err := INSKey("12"); err == nil {
		t.Error("INSKey(short) succeeded")
	}
}

func TestINSProduction(t *testing.T) {
	for oid, want := range map[string]bool{OIDINSNIR: true, OIDINSNIA: true, OIDINSNIRTest: false, OIDINSNIRDemo: false} {
		if got := (INS{Matricule: "x", OID: oid}).Production(); got != want {
			t.Errorf("Production(%s) = %v, want %v", oid, got, want)
		}
	}
}

func TestDisplayName(t *testing.T) {
	tests := []struct {
		p    Patient
		want string
	}{
		{Patient{BirthName: "Martin", BirthGivenNames: "Hélène Marie"}, "MARTIN Hélène"},
		{Patient{BirthName: "Martin", UsedName: "Dupont", BirthGivenNames: "Hélène", UsedGivenName: "Léna"}, "DUPONT Léna"},
		{Patient{BirthName: "Le Hénaff"}, "LE HÉNAFF"},
	}
	for _, tc := range tests {
		if got := tc.p.DisplayName(); got != tc.want {
			t.Errorf("DisplayName() = %q, want %q", got, tc.want)
		}
	}
}

func TestRedacted(t *testing.T) {
	r := Redacted("279035121518989")
	for _, s := range []string{r.String(), r.GoString(), r.LogValue().String()} {
		if strings.Contains(s, "2790") {
			t.Fatalf("redacted value leaks: %q", s)
		}
	}
}

func TestKindOf(t *testing.T) {
	if KindOf(nil) != nil {
		t.Fatal("KindOf(nil) != nil")
	}
	wrapped := errors.Join(errors.New("x"), ErrDamaged)
	if KindOf(wrapped) != ErrDamaged {
		t.Fatalf("KindOf(joined) = %v", KindOf(wrapped))
	}
	w := &WaitError{Kind: ErrTooManyAttempts, Wait: 5e9}
	if KindOf(w) != ErrTooManyAttempts || !strings.Contains(w.Error(), "5s") {
		t.Fatalf("WaitError: %v / %v", KindOf(w), w)
	}
	if KindOf(errors.New("disk on fire")) != nil {
		t.Fatal("unknown error classified")
	}
}

func TestSettingsValidate(t *testing.T) {
	if err := DefaultSettings().Validate(); err != nil {
		t.Fatalf("defaults invalid: %v", err)
	}
	bad := []func(*Settings){
		func(s *Settings) { s.AutoLock = 0 },
		func(s *Settings) { s.AutoLock = 61 * 60e9 },
		func(s *Settings) { s.Reauth = 13 * 3600e9 },
		func(s *Settings) { s.RetentionDays = 0 },
		func(s *Settings) { s.RevalidationDays = 31 },
	}
	for i, f := range bad {
		s := DefaultSettings()
		f(&s)
		if err := s.Validate(); !errors.Is(err, ErrInvalid) {
			t.Errorf("case %d: Validate = %v, want ErrInvalid", i, err)
		}
	}
}

func TestPassphraseStrength(t *testing.T) {
	tests := []struct {
		p    string
		want Strength
	}{
		{"", StrengthTooShort},
		{"short", StrengthTooShort},
		{"élégant-été", StrengthTooShort}, // 11 characters, more bytes
		{"abcdefghijkl", StrengthWeak},
		{"abcdefghijklmn", StrengthGood},
		{"Abcdefgh1jkl", StrengthGood},
		{"correct horse battery staple", StrengthStrong},
		{"Tr0ub4dor&3xyzab", StrengthStrong},
	}
	for _, tc := range tests {
		if got := PassphraseStrength([]byte(tc.p)); got != tc.want {
			t.Errorf("PassphraseStrength(%q) = %v, want %v", tc.p, got, tc.want)
		}
	}
	if err := CheckPassphrase([]byte("short")); !errors.Is(err, ErrWeakPassphrase) {
		t.Errorf("CheckPassphrase(short) = %v", err)
	}
}

func FuzzParseINS(f *testing.F) {
	for _, s := range []string{"279035121518989", "185072A00101394", "", "2A", "999999999999999", "-79035121518989"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ins, err := ParseINS(s, OIDINSNIR)
		if err != nil {
			return
		}
		if len(ins.Matricule) != 15 {
			t.Fatalf("accepted matricule of length %d", len(ins.Matricule))
		}
		key, err := INSKey(ins.Matricule[:13])
		if err != nil || key != ins.Matricule[13:] {
			t.Fatalf("accepted a matricule whose key does not check")
		}
	})
}
