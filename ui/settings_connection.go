package ui

import (
	"context"
	"errors"
	"strconv"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/carnetdesk/carnet/app"
)

// connectionCard is the settings card of the central record service, the
// practitioner's credential and the structure: editable when the service
// has a connection store (config.toml), read-only otherwise. A change
// applies at the next sign-in.
type connectionCard struct {
	taskFrame // u, disposed, and the background work (tasks.go)

	url, ca          *entry
	credKind         *widget.RadioGroup
	module, slot     *entry
	p12              *entry
	cardRows, p12Row *fyne.Container
	facility         *entry
	protocol, mode   *widget.RadioGroup // the DMP's protocol; xds: the authentication mode
	vihf             *entry             // xds, indirect: the VIHF's signing file
	xdsRows, vihfRow *fyne.Container
	save             *widget.Button
	msg              *widget.Label
}

// credentialChoices are the credential kinds offered, in order.
var credentialChoices = []app.CredentialKind{app.CredentialCard, app.CredentialFile, app.CredentialNone}

// credentialName names a credential kind in the current language.
func credentialName(k app.CredentialKind) string {
	switch k {
	case app.CredentialCard:
		return tr("settings.credential.card")
	case app.CredentialFile:
		return tr("settings.credential.file")
	}
	return tr("settings.credential.none")
}

// credentialLabel names the configured credential for the sign-in screen:
// "carte CPS", or the certificate file's name.
func credentialLabel(c app.CredentialConfig) string {
	switch c.Kind {
	case app.CredentialCard:
		return tr("signin.credential.card")
	case app.CredentialFile:
		name := c.File
		if i := strings.LastIndexAny(name, `/\`); i >= 0 {
			name = name[i+1:]
		}
		return name
	}
	return ""
}

func newConnectionCard(u *UI) *connectionCard { return &connectionCard{taskFrame: frame(u)} }

// buildUI returns the card.
func (c *connectionCard) buildUI() fyne.CanvasObject {
	conn := c.u.svc.Connection()
	if !c.u.svc.CanEditConnection() {
		return c.readOnly(conn)
	}
	c.url = newEntry(c.u, "https://…/si-dmp-server/v2/services")
	c.url.SetText(conn.ServiceURL)
	c.ca = newEntry(c.u, tr("settings.path.optional"))
	c.ca.SetText(conn.ServiceCA)
	c.module = newEntry(c.u, app.DefaultCardModule())
	c.module.SetText(conn.Credential.Module)
	c.slot = newEntry(c.u, tr("settings.credential.slot.placeholder"))
	c.slot.SetText(conn.Credential.Slot)
	c.p12 = newEntry(c.u, "/home/…/praticien.p12")
	c.p12.SetText(conn.Credential.File)
	c.facility = newEntry(c.u, "SA04")
	c.facility.SetText(conn.FacilityType)

	names := make([]string, len(credentialChoices))
	for i, k := range credentialChoices {
		names[i] = credentialName(k)
	}
	c.credKind = widget.NewRadioGroup(names, func(string) { c.showCredential() })
	c.credKind.Required = true
	c.credKind.Selected = credentialName(conn.Credential.Kind)

	c.cardRows = container.NewVBox(widget.NewForm(
		&widget.FormItem{Text: tr("settings.credential.module"), Widget: c.module, HintText: tr("settings.credential.module.hint")},
		&widget.FormItem{Text: tr("settings.credential.slot"), Widget: c.slot},
	))
	c.p12Row = container.NewVBox(widget.NewForm(
		&widget.FormItem{Text: tr("settings.credential.p12"), Widget: c.p12, HintText: tr("settings.credential.p12.hint")},
	))
	c.save = widget.NewButtonWithIcon(tr("settings.save"), theme.DocumentSaveIcon(), c.saveConnection)
	c.msg = newMessage(widget.DangerImportance)
	form := widget.NewForm(
		&widget.FormItem{Text: tr("settings.service.url"), Widget: c.url, HintText: tr("settings.service.url.hint")},
		&widget.FormItem{Text: tr("settings.service.ca"), Widget: c.ca, HintText: tr("settings.service.ca.hint")},
		&widget.FormItem{Text: tr("settings.credential"), Widget: c.credKind},
	)
	structure := widget.NewForm(&widget.FormItem{Text: tr("settings.structure.type"), Widget: c.facility, HintText: tr("settings.structure.type.hint")})
	dmp := c.buildProtocol(conn)
	c.showCredential()
	return widget.NewCard(tr("settings.service"), tr("settings.service.edit.hint"),
		container.NewVBox(form, c.cardRows, c.p12Row, dmp, structure, container.NewHBox(c.save), c.msg))
}

// protocolChoices and authModeChoices are the protocols and the XDS
// authentication modes offered, in order.
var (
	protocolChoices = []string{app.ProtocolXDS, app.ProtocolFHIR}
	authModeChoices = []string{app.AuthIndirect, app.AuthDirect}
)

// protocolName names a protocol in the current language.
func protocolName(p string) string {
	if p == app.ProtocolFHIR {
		return tr("settings.dmp.protocol.fhir")
	}
	return tr("settings.dmp.protocol.xds")
}

// authModeName names an XDS authentication mode in the current language.
func authModeName(m string) string {
	if m == app.AuthDirect {
		return tr("settings.dmp.auth.direct")
	}
	return tr("settings.dmp.auth.indirect")
}

// buildProtocol returns the rows of the protocol: the protocol, and with
// XDS the authentication mode and, in the indirect mode, the second
// certificate file that signs the VIHF.
func (c *connectionCard) buildProtocol(conn app.Connection) fyne.CanvasObject {
	c.protocol = widget.NewRadioGroup(choiceNames(protocolChoices, protocolName), func(string) { c.showCredential() })
	c.protocol.Required = true
	c.protocol.Selected = protocolName(conn.DMPProtocol())
	c.mode = widget.NewRadioGroup(choiceNames(authModeChoices, authModeName), func(string) { c.showCredential() })
	c.mode.Required = true
	c.mode.Selected = authModeName(conn.DMPAuthMode())
	c.vihf = newEntry(c.u, tr("settings.path.optional"))
	c.vihf.SetText(conn.VIHFFile)
	c.xdsRows = container.NewVBox(widget.NewForm(
		&widget.FormItem{Text: tr("settings.dmp.auth"), Widget: c.mode, HintText: tr("settings.dmp.auth.hint")},
	))
	c.vihfRow = container.NewVBox(widget.NewForm(
		&widget.FormItem{Text: tr("settings.dmp.vihf"), Widget: c.vihf, HintText: tr("settings.dmp.vihf.hint")},
	))
	return container.NewVBox(widget.NewForm(
		&widget.FormItem{Text: tr("settings.dmp.protocol"), Widget: c.protocol, HintText: tr("settings.dmp.protocol.hint")},
	), c.xdsRows, c.vihfRow)
}

// readOnly shows the connection without editing (no connection store).
func (c *connectionCard) readOnly(conn app.Connection) fyne.CanvasObject {
	url := conn.ServiceURL
	if url == "" {
		url = tr("settings.service.none")
	}
	cred := credentialLabel(conn.Credential)
	if cred == "" {
		cred = tr("settings.credential.none")
	}
	form := widget.NewForm(
		widget.NewFormItem(tr("settings.service.url"), widget.NewLabel(url)),
		widget.NewFormItem(tr("settings.dmp.protocol"), widget.NewLabel(protocolName(conn.DMPProtocol()))),
		widget.NewFormItem(tr("settings.credential"), widget.NewLabel(cred)),
	)
	return widget.NewCard(tr("settings.service"), tr("settings.service.hint"), form)
}

// kind returns the credential kind chosen.
func (c *connectionCard) kind() app.CredentialKind {
	for _, k := range credentialChoices {
		if credentialName(k) == c.credKind.Selected {
			return k
		}
	}
	return app.CredentialNone
}

// showCredential shows the fields of the chosen credential kind and
// protocol.
func (c *connectionCard) showCredential() {
	if c.cardRows == nil || c.xdsRows == nil {
		return
	}
	k := c.kind()
	show(c.cardRows, k == app.CredentialCard)
	show(c.p12Row, k == app.CredentialFile)
	xds := chosen(protocolChoices, protocolName, c.protocol.Selected) == app.ProtocolXDS
	show(c.xdsRows, xds)
	show(c.vihfRow, xds && chosen(authModeChoices, authModeName, c.mode.Selected) == app.AuthIndirect)
	relayoutCanvasOf(c.cardRows)
}

// connection returns the connection the fields describe, over the current
// one (its mailboxes stay).
func (c *connectionCard) connection() app.Connection {
	conn := c.u.svc.Connection()
	conn.ServiceURL = strings.TrimSpace(c.url.Text)
	conn.ServiceCA = strings.TrimSpace(c.ca.Text)
	conn.FacilityType = strings.ToUpper(strings.TrimSpace(c.facility.Text))
	conn.Credential = app.CredentialConfig{Kind: c.kind()}
	switch conn.Credential.Kind {
	case app.CredentialCard:
		conn.Credential.Module, conn.Credential.Slot = strings.TrimSpace(c.module.Text), strings.TrimSpace(c.slot.Text)
		if conn.Credential.Module == "" {
			conn.Credential.Module = app.DefaultCardModule() // the placeholder shown
		}
	case app.CredentialFile:
		conn.Credential.File = strings.TrimSpace(c.p12.Text)
	}
	// The protocol; with XDS the mode, and the VIHF's signing file only in
	// the indirect mode. With FHIR the XDS settings stay as they were.
	conn.Protocol = chosen(protocolChoices, protocolName, c.protocol.Selected)
	if conn.Protocol == app.ProtocolXDS {
		conn.AuthMode = chosen(authModeChoices, authModeName, c.mode.Selected)
		conn.VIHFFile = ""
		if conn.AuthMode == app.AuthIndirect {
			conn.VIHFFile = strings.TrimSpace(c.vihf.Text)
		}
	}
	return conn
}

// saveConnection validates the fields here (for a precise message) and
// saves the connection off the UI goroutine.
func (c *connectionCard) saveConnection() {
	conn := c.connection()
	c.msg.Importance = widget.DangerImportance
	if err := conn.Validate(); err != nil {
		setMessage(c.msg, connectionProblem(err))
		return
	}
	svc := c.u.svc
	saving := form{frame: &c.taskFrame, msg: c.msg, inputs: []fyne.Disableable{c.save}, explain: connectionProblem}
	saving.send(func(ctx context.Context) error { return svc.SaveConnection(ctx, conn) }, func() string {
		return tr("settings.service.saved")
	})
}

func (c *connectionCard) dispose() { c.end() }

// connectionProblem translates a refused connection: which field is at
// fault (app.ConnectionError), in the current language.
func connectionProblem(err error) string {
	var ce *app.ConnectionError
	if errors.As(err, &ce) {
		if key, ok := connectionProblems[ce.Field]; ok {
			return tr(key)
		}
	}
	return message(err)
}

// connectionProblems are the messages of the fields a person can get
// wrong in the settings, or in a configuration file edited by hand (the
// protocol and the authentication mode, which the settings offer only as
// choices).
var connectionProblems = map[app.ConnectionField]string{
	app.FieldHTTPS:      "settings.problem.https",
	app.FieldServiceURL: "settings.problem.url",
	app.FieldModule:     "settings.problem.module",
	app.FieldP12:        "settings.problem.p12",
	app.FieldFacility:   "settings.problem.facility",
	app.FieldSMTP:       "settings.problem.smtp",
	app.FieldTwice:      "settings.problem.twice",
	app.FieldAddress:    "settings.problem.address",
	app.FieldHost:       "settings.problem.host",
	app.FieldPort:       "settings.problem.port",
	app.FieldSecurity:   "settings.problem.security",
	app.FieldFolder:     "settings.problem.folder",
	app.FieldVIHF:       "settings.dmp.problem.vihf",
	app.FieldProtocol:   "settings.dmp.problem.protocol",  // a file edited by hand
	app.FieldAuthMode:   "settings.dmp.problem.auth-mode", // a file edited by hand
}

// show shows or hides o.
func show(o fyne.CanvasObject, visible bool) {
	if visible {
		o.Show()
	} else {
		o.Hide()
	}
}

// portText is a port for an entry: empty when 0 (the default).
func portText(p int) string {
	if p == 0 {
		return ""
	}
	return strconv.Itoa(p)
}
