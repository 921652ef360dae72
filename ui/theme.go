package ui

import (
	"image/color"

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
