package app

import "testing"

// TestDirectoryByINS: the INS index follows Put (new, replaced with
// another INS), Remove (also of a moved entry) and matches an INS typed
// with spaces or in lower case, the OID exactly; an empty INS matches
// nobody.
func TestDirectoryByINS(t *testing.T) {
	ins := func(m, oid string) INS { return INS{Matricule: m, OID: oid} }
	a := Patient{ID: "a", BirthName: "A", INS: ins("2800175123456", OIDINSNIR)}
	b := Patient{ID: "b", BirthName: "B", INS: ins("2800175123456", OIDINSNIR)} // homonym INS (a duplicate)
	c := Patient{ID: "c", BirthName: "C", INS: ins("2B00175123456", OIDINSNIR)}
	e := Patient{ID: "e", BirthName: "E"}
	d := NewDirectory([]Patient{a, b, c, e})
	ids := func(ps []Patient) map[PatientID]bool {
		out := map[PatientID]bool{}
		for _, p := range ps {
			out[p.ID] = true
		}
		return out
	}
	check := func(step string, q INS, want ...PatientID) {
		t.Helper()
		got := ids(d.ByINS(q))
		if len(got) != len(want) {
			t.Fatalf("%s: ByINS(%v) = %v, want %v", step, q, got, want)
		}
		for _, id := range want {
			if !got[id] {
				t.Fatalf("%s: ByINS(%v) = %v, want %v", step, q, got, want)
			}
		}
	}
	check("start", a.INS, "a", "b")
	check("typed", ins(" 2b00175123456 ", OIDINSNIR), "c")
	check("other OID", ins(a.INS.Matricule, OIDINSNIA))
	check("empty", INS{})
	check("blank", ins("   ", OIDINSNIR))
	a.INS = ins("1800175123457", OIDINSNIR)
	d.Put(a)
	check("a moved: old INS", b.INS, "b")
	check("a moved: new INS", a.INS, "a")
	d.Remove("b") // the last-but-one entry moves into b's slot
	check("b removed", b.INS)
	check("c after the move", c.INS, "c")
	d.Remove("c")
	d.Remove("c")
	check("c removed", c.INS)
	check("a still", a.INS, "a")
	if len(d.byINS) != 1 {
		t.Fatalf("index keeps %d keys, want 1: %v", len(d.byINS), d.byINS)
	}
}
