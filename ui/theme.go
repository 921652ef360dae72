package ui

import (
	"image/color"
	"math"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/theme"
)

// The theme choices, as stored in the preferences under prefTheme. The
// system's choice is the default.
const (
	prefTheme   = "theme"
	themeSystem = "system"
	themeLight  = "light"
	themeDark   = "dark"
)

// themeChoices are the choices of the theme setting, in the order shown.
var themeChoices = []string{themeSystem, themeLight, themeDark}

// themePreference returns the theme chosen in a's preferences.
func themePreference(a fyne.App) string {
	switch t := a.Preferences().StringWithFallback(prefTheme, themeSystem); t {
	case themeLight, themeDark:
		return t
	default:
		return themeSystem
	}
}

// applyTheme applies the theme chosen in a's preferences: Fyne's default
// theme with its variant forced to light or dark, or left to the system.
func applyTheme(a fyne.App) {
	var variant *fyne.ThemeVariant
	switch themePreference(a) {
	case themeLight:
		v := theme.VariantLight
		variant = &v
	case themeDark:
		v := theme.VariantDark
		variant = &v
	}
	if variant == nil {
		if _, ok := a.Settings().Theme().(*variantTheme); ok {
			a.Settings().SetTheme(theme.DefaultTheme())
		}
		return
	}
	a.Settings().SetTheme(&variantTheme{Theme: theme.DefaultTheme(), variant: *variant})
}

// variantTheme is a theme whose colours always come in one variant, light
// or dark, whatever the system prefers.
type variantTheme struct {
	fyne.Theme
	variant fyne.ThemeVariant
}

// Color implements fyne.Theme: the base theme's colour in the forced
// variant.
func (t *variantTheme) Color(n fyne.ThemeColorName, _ fyne.ThemeVariant) color.Color {
	return t.Theme.Color(n, t.variant)
}

// minContrast is the contrast ratio WCAG 2 level AA asks of body text
// against its background.
const minContrast = 4.5

// contrast returns the WCAG 2 contrast ratio of two colours, from 1 (the
// same luminance) to 21 (black on white).
func contrast(a, b color.Color) float64 {
	la, lb := luminance(a), luminance(b)
	if la < lb {
		la, lb = lb, la
	}
	return (la + 0.05) / (lb + 0.05)
}

// luminance returns the WCAG 2 relative luminance of c, from 0 (black) to
// 1 (white).
func luminance(c color.Color) float64 {
	n := color.NRGBAModel.Convert(c).(color.NRGBA)
	lin := func(v uint8) float64 {
		s := float64(v) / 255
		if s <= 0.04045 {
			return s / 12.92
		}
		return math.Pow((s+0.055)/1.055, 2.4)
	}
	return 0.2126*lin(n.R) + 0.7152*lin(n.G) + 0.0722*lin(n.B)
}

// fillFor returns fill, darkened or lightened just enough for text to
// reach minContrast on it: darkened under a light text, lightened under a
// dark one. Fyne's light theme writes white on its error red at 3.7:1.
func fillFor(fill, text color.Color) color.Color {
	toward := color.NRGBA{A: 0xff} // black, under a light text
	if luminance(text) < luminance(fill) {
		toward = color.NRGBA{R: 0xff, G: 0xff, B: 0xff, A: 0xff}
	}
	f := color.NRGBAModel.Convert(fill).(color.NRGBA)
	f.A = 0xff
	mix := func(a, b uint8, t float64) uint8 { return uint8(math.Round(float64(a) + (float64(b)-float64(a))*t)) }
	out := f
	for i := 0; i <= 20 && contrast(out, text) < minContrast; i++ {
		t := float64(i) / 20
		out = color.NRGBA{R: mix(f.R, toward.R, t), G: mix(f.G, toward.G, t), B: mix(f.B, toward.B, t), A: 0xff}
	}
	return out
}

// emergencyColor is the fill of the red bris de glace banner in th and
// variant v: the theme's error colour, adjusted so that the banner's text
// (the theme's foreground-on-error colour) stays readable.
func emergencyColor(th fyne.Theme, v fyne.ThemeVariant) color.Color {
	return fillFor(th.Color(theme.ColorNameError, v), th.Color(theme.ColorNameForegroundOnError, v))
}
