package assets_test

import (
	"bytes"
	"encoding/json"
	"image/png"
	"testing"

	"github.com/carnetdesk/carnet/assets"
)

func TestIcon(t *testing.T) {
	img, err := png.Decode(bytes.NewReader(assets.IconPNG))
	if err != nil {
		t.Fatalf("icon.png: %v", err)
	}
	if b := img.Bounds(); b.Dx() != 512 || b.Dy() != 512 {
		t.Errorf("icon is %dx%d, want 512x512", b.Dx(), b.Dy())
	}
}

func TestTranslationsParse(t *testing.T) {
	for _, name := range []string{"fr.json", "en.json"} {
		data, err := assets.Translations.ReadFile(assets.TranslationsDir + "/" + name)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(data, &m); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		if len(m) < 50 {
			t.Errorf("%s: only %d messages", name, len(m))
		}
	}
}
