package assets_test

import (
	"encoding/json"
	"io/fs"
	"strings"
	"testing"

	"github.com/carnetdesk/carnet/assets"
)

func TestTerminologyFiles(t *testing.T) {
	for _, name := range []string{"valuesets.tsv", "tre_a03.tsv", "atc.tsv", "perioperative.json", "substances.txt"} {
		data, err := assets.Terminology.ReadFile(assets.TerminologyDir + "/" + name)
		if err != nil {
			t.Fatal(err)
		}
		if len(data) < 100 {
			t.Errorf("%s: only %d bytes", name, len(data))
		}
		if strings.HasSuffix(name, ".json") && !json.Valid(data) {
			t.Errorf("%s: not valid JSON", name)
		}
		if strings.HasSuffix(name, ".tsv") && !strings.Contains(string(data), "\n@source\t") {
			t.Errorf("%s: no @source provenance line", name)
		}
	}
	entries, err := fs.ReadDir(assets.Terminology, assets.TerminologyDir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 5 {
		t.Errorf("terminology holds %d files, want 5", len(entries))
	}
}
