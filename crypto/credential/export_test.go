package credential

// SetNoPSS makes a credential behave as a card that cannot sign RSA-PSS.
func SetNoPSS(c *Credential) { c.noPSS = true }
