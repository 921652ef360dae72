// Package assets holds the files Carnet embeds in its binary: the application
// icon and the translations of the user interface (French first, English
// second).
//
// The package exposes plain bytes and an embed.FS only and does not import
// Fyne: package ui turns them into Fyne resources and translations. Later
// issues add the terminology tables (document types, ATC perioperative
// classes) here.
package assets

import "embed"

// IconPNG is the application icon, a 512×512 PNG. FyneApp.toml points at the
// same file (assets/icon.png).
//
//go:embed icon.png
var IconPNG []byte

// Translations holds the user interface strings, one go-i18n JSON file per
// language under translations/: fr.json (the default) and en.json. Each file
// also carries Fyne's own strings (dialog buttons, file picker) so that the
// chosen language applies to the whole window.
//
//go:embed translations/*.json
var Translations embed.FS

// TranslationsDir is the directory of Translations that holds the files.
const TranslationsDir = "translations"
