package cda

import (
	"strings"
	"testing"
)

// sampleGoldens is what the reader extracts from each of the fourteen ANS
// samples (shared/samples/cda), in the form of golden(). Each line was
// checked against the XML of the sample (entries, their negationInd,
// moodCode, statusCode, effectiveTime as written, and the narrative their
// references point to); the notes say where a line is surprising.
var sampleGoldens = map[string][]string{
	// ANEST: 18 problem observations, 10 of them negationInd="true" (I10,
	// I26, J40 in the active problems; J81, J44.9, N76.0, O03, B16, D68.9,
	// D75.9 in the history): 8 problems the patient has. The allergy's MFST
	// reaction observation is negated (line ~2616), its effectiveTime low is
	// "2000" (a year). The attached CR (organizer 55107-7) is observationMedia
	// DOC-001, a PDF.
	"ANEST-CR-CPA_2022.01.xml": {
		"med given \"SOLIAN 100 mg\" atc=N05AL05 product=60019927 start=20/03/2020",
		"allergy \"Paracétamol\" agent=N02BE01 reaction=NOT \"urticaire\" start=2000",
		"problem NOT I10 \"[CIM-10 : I10] Hypertension essentielle\"",
		"problem NOT I26 \"[CIM-10 : I26] Embolie pulmonaire\"",
		"problem NOT J40 \"[CIM-10 : J40] Bronchite, non précisée aigüe ou chronique\" start=23/09/2018",
		"problem E03.9 \"[CIM-10 : E03.9] Hypothyroïdie, sans précision\" start=23/09/2018",
		"problem G22 \"[CIM-10 : G22] Syndrome parkinsonien au cours de maladies classées ailleurs\" start=23/09/2018",
		"problem F33 \"[CIM-10 : F33] Trouble dépressif récurrent\" start=23/09/2018",
		"problem K21 \"[CIM-10 : K21] Reflux gastro-oesophagien\" start=23/09/2018",
		"problem N04 \"[CIM-10 : N04] Syndrome néphrotique\" start=23/09/2018",
		"problem E10 \"[CIM-10 : E10] Diabète sucré de type 1\" start=23/09/2018",
		"problem MED-670 \"(Texte libre pour la description du cancer)\" start=23/09/2018",
		"problem B19 \"[CIM-10 : B19] Hépatite virale, sans précision\" start=23/09/2018",
		"problem NOT J81 \"[CIM-10 : J81] Œdème pulmonaire\"",
		"problem NOT J44.9 \"[CIM-10 : J44.0] Maladie pulmonaire obstructive chronique, sans précision\"",
		"problem NOT N76.0 \"[CIM-10 : N76.0] Vaginite aigüe\"",
		"problem NOT O03 \"[CIM-10 : O03] Avortement spontané\"",
		"problem NOT B16 \"[CIM-10 : B16] Hépatite aigüe B\"",
		"problem NOT D68.9 \"[CIM-10 : D68.9] Anomalie de la coagulation, sans précision\"",
		"problem NOT D75.9 \"[CIM-10 : D75.9] Maladie du sang et des organes hématopoïétiques, sans précision\"",
		"media DOC-001 application/pdf 181301 bytes",
	},
	// The self-presenting report: read through its xsl:stylesheet wrapper; a
	// lab report without medication, allergy, problem, device or media entry.
	"BIO-CR-BIO_2021.01_Auto-Presentable.xml": {},
	"BIO-CR-BIO_2024.01_CR-2nde-intention-PDF.xml": {
		"media CRBio application/pdf 82200 bytes",
		"media doc-1 application/pdf 104574 bytes",
	},
	"BIO-CR-BIO_2024.01_TSH_1.xml": {
		"media doc-1 application/pdf 78777 bytes",
	},
	// CARD: procedure DELF014 (1999-08-12) has four DEV participants without
	// playingDevice (named by the procedure's narrative); the two supply
	// entries (DCI, then leads and assist devices) carry EMDN codes and NCIT
	// brand/model translations resolved through the narrative.
	"CARD-F-PRC-DCI_2022.01.xml": {
		"problem I47.2 \"Tachycardie ventriculaire\" start=12/05/1985",
		"device \"Implantation d'un défibrillateur cardiaque automatique, avec pose d'une sonde intraventriculaire droite par voie veineuse transcutanée\" procedure=DELF014 date=12/08/1999",
		"device \"Implantation d'un défibrillateur cardiaque automatique, avec pose d'une sonde intraventriculaire droite par voie veineuse transcutanée\" procedure=DELF014 date=12/08/1999",
		"device \"Implantation d'un défibrillateur cardiaque automatique, avec pose d'une sonde intraventriculaire droite par voie veineuse transcutanée\" procedure=DELF014 date=12/08/1999",
		"device \"Implantation d'un défibrillateur cardiaque automatique, avec pose d'une sonde intraventriculaire droite par voie veineuse transcutanée\" procedure=DELF014 date=12/08/1999",
		"device \"DÉFIBRILLATEURS IMPLANTABLES\" type=J0105 model=\"Sous-cutané Victory SR 5610\" date=29/09/2008 09:49",
		"device \"SONDES DE STIMULATION CARDIAQUE AURICULAIRE À FIXATION PASSIVE\" type=J019001010101 model=\"St.Jude Medical Mod.55\" date=29/09/2008 09:49",
		"device \"DISPOSITIFS IMPLANTABLES D'ASSISTANCE VENTRICULAIRE DROITE (RVAD)\" type=J01030101 model=\"St.Jude Medical Mod.55\" date=29/09/2008 09:49",
		"device \"DISPOSITIFS IMPLANTABLES D'ASSISTANCE VENTRICULAIRE GAUCHE (LVAD)\" type=J01030102 model=\"St.Jude Medical Mod.55\" date=29/09/2008 09:49",
	},
	// CNAM-HR: "HARMACIE COMPAIN" is as written (line 521). The homeopathic
	// line's name is written "PRODUIT HOMEOPATHIQUE" (line 619), a category,
	// and its UCD 9064295 is "NUX VOMICA COMP BOIR GRL" (line 607): the coded
	// product names it, the written name is the flagged text. The devices are
	// dated by their performer/time, written "20190711" and "20190528": days,
	// never "00:00". The LPP devices
	// are coded in a translation whose display contradicts the narrative the
	// originalText points to (#DM001 is the dressing row): the code wins,
	// the narrative is the conflict. Both are supplies a pharmacy performed
	// (performer/time "Date de délivrance", lines 1111, 1185): dispensed
	// devices, not implants.
	"CNAM-HR_2021.01.xml": {
		"med dispensed \"LUDEAL CPR3/21\" subst=\"ETHINYLESTRADIOL + LEVONORGESTREL\" atc=G03 product=3400935673220 dispensed=26/05/2019 qty=1 by=\"CLINIQUE SAINTE GENEVIEVE\"",
		"med dispensed \"CRESTOR 5MG CPR9/10\" subst=\"ROSUVASTATINE\" atc=C10 product=3400939169002 dispensed=11/03/2019 qty=1 by=\"HARMACIE COMPAIN\"",
		"med dispensed \"NUX VOMICA COMP BOIR GRL\" subst=\"NUX VOMICA\" atc=W99 product=9064295 dispensed=08/03/2019 qty=4 by=\"HARMACIE COMPAIN\" conflict=\"PRODUIT HOMEOPATHIQUE\"",
		"med dispensed \"VACCIN TETANIQUE PASTEUR SUSP INJ1/.5\" atc=J07AM01 product=3400932857241 dispensed=11/07/2019 by=\"PHARMACIE COMPAIN\"",
		"med dispensed \"HBVAXPRO 10 MICROG/ML SUSP INJ SER1/1\" atc=J07BC01 product=3400936924642 dispensed=08/07/2019 by=\"PHARMACIE COMPAIN\"",
		"med dispensed \"VACCIN TETANIQUE PASTEUR SUSP INJ1/.5\" atc=J07AM01 product=3400932857241 dispensed=26/06/2019 by=\"PHARMACIE COMPAIN\"",
		"device dispensed \"Stimulateur cardiaque de re-synchro ventriculaire, BIOTRONIK, EDORA 8 HF-T.\" type=3408693 date=11/07/2019 conflict=\"COMPRESSES ACIDE HYALURONIQUE&SULFADIAZINE ARGENTIQUE,GENEVRIER,IALUSET+,LES 10\"",
		"device dispensed \"COMPRESSES ACIDE HYALURONIQUE&SULFADIAZINE ARGENTIQUE,GENEVRIER,IALUSET+,LES 10\" type=1397790 date=28/05/2019 conflict=\"PANSEMENTS HYDROCELLULAIRES, > OU = 50 CM2 ET < 63 CM2, BOÎTE DE 10.\"",
	},
	// CSE-CS8: the two vaccinations are negationInd="true" (lines 2660,
	// 2700); G96.9 and MED-170 are negated FR-Probleme; the narrative of
	// GEN-092.01.11 reads "Oui : (texte libre)", never a name.
	"CSE-CS8_2024.01.xml": {
		"med given \"IMMUNOGLOBULINE HUMAINE DE L'HEPATITE B LFB 100 UI/ml, solution injectable en seringue préremplie (IM)\" product=68740103 start=03/05/2021 08:30",
		"med not-given \"Vaccin antituberculeux\" atc=J07AN",
		"med not-given \"Vaccin contre l'hépatite B\" atc=J07BC01",
		"problem MED-179 \"Audition à recontrôler\"",
		"problem P22.9 \"Détresse respiratoire du nouveau-né, sans précision\"",
		"problem MED-276 \"Antibiothérapie (de plus de 48 heures)\"",
		"problem NOT G96.9 \"Affection du système nerveux central, sans précision\"",
		"problem NOT MED-170 \"Urgence chirurgicale\"",
		"problem GEN-092.01.11 \"Autres pathologies de la 1ère semaine\"",
	},
	"DOC_NON_STRUCTURE_CDA-R2-N1.xml": {},
	// IMG: the FR-Dispositif-medical supply (EVN, code line 2308) is an EMDN
	// Z11039014 contrast injector, used during the examination: not an
	// implant.
	"IMG_CR_IMG_2024.01.xml": {
		"med given \"XENETIX 350\" atc=V08AB11 product=3400936915657",
		"med given \"111In-indium acide pentétique\" atc=V09AX01",
		"med given \"XENETIX 350\" atc=V08AB11 product=3400936915657",
		"med given \"111In-indium acide pentétique\" atc=V09AX01",
		"med given \"XENETIX 350\" atc=V08AB11 product=3400936915657",
		"med given \"111In-indium acide pentétique\" atc=V09AX01",
		"device used \"INJECTEURS DE PRODUITS DE CONTRASTE\" type=Z11039014 date=08/01/2021 11:17",
		"media DOC-001 application/pdf 165811 bytes",
	},
	// IPS: amoxicillin is nested in the adverse-effect observation (COMP);
	// levothyroxine's pharm:ingredient is coded LÉVOTHYROXINE SODIQUE and
	// named "paracetamol" (the code wins, flagged); the two moodCode INT
	// vaccinations (templates …4.12.2, FR 3.47) are planned.
	"IPS-FR_2024.01.xml": {
		"med given \"AMOXICILLINE EG 1G BUV SACH 6\" subst=\"AMOXICILLINE TRIHYDRATÉE\" atc=J01CA04 product=3400935186607 start=04/12/2021",
		"med given \"LEVOTHYROX 75 microgrammes\" subst=\"LÉVOTHYROXINE SODIQUE\" atc=H03AA01 product=62080626 start=11/02/2022 conflict=\"paracetamol\"",
		"med given \"REVAXIS, suspension injectable en seringue préremplie. Vaccin diphtérique, tétanique et poliomyélitique (inactivé), (adsorbé)à teneur réduite en antigènes\" atc=J07CA01 product=60917345 start=28/09/2009 09:49",
		"med given \"REVAXIS, suspension injectable en seringue préremplie. Vaccin diphtérique, tétanique et poliomyélitique (inactivé), adsorbé, à teneur réduite en antigènes\" atc=J07CA01 product=60917345 start=28/09/2009 09:49",
		"med prescribed \"ROSUVASTATINE EG 5 mg, comprimé pelliculé\" product=69473265",
		"med prescribed \"Autre traitement : (texte libre)\"",
		"med planned \"Vaccin antituberculeux\" atc=J07AN start=01/12/2024 end=31/12/2024",
		"med planned \"Autre vaccin (texte libre)\" start=01/12/2024 end=31/12/2024",
		"allergy \"Paracétamol\" agent=XM5DJ7 reaction=\"Bronchospasme d'origine médicamenteuse\" start=04/12/2021",
		"allergy \"AMOXICILLINE EG 1G BUV SACH 6\" agent=J01CA04 reaction=\"Nausée\" start=04/12/2021",
		"problem E06.3 \"Thyroïdite auto-immune (CIM-10 : E06.3)\" start=11/01/2024",
		"problem T89 \"Diabète insulino-dépendant (CISP2 : T89)\" start=05/07/2023",
		"problem 114 \"Epilepsie (DRC : 114)\" start=21/05/2023",
		"problem 658 \"Angiœdème bradykinique (OrphaCode : 658)\" start=11/02/2022",
		"problem R69 \"Autre problème (texte libre)\" start=11/02/2022",
		"problem G45.9 \"Accident Ischémique Cérébral Transitoire (CIM-10 : G45.9)\" start=22/04/2018",
		"problem N10 \"Pyélonéphrite aiguë (CIM-10 : N10)\" start=14/01/2018",
		"problem R50.2 \"Fièvre due à des médicaments\" start=28/09/2009",
		"problem R50.2 \"Fièvre due à des médicaments\" start=25/08/2009",
		"device \"STIMULATEUR CARDIAQUE IMPLANTABLE TRIPLE CHAMBRE\" type=J010104 date=11/08/2019",
		"device \"Autre dispositif médical\" type=GEN-092.02.02 date=11/08/2019",
		"media directives-anticipees-pdf application/pdf 122963 bytes",
		"media doc-1 application/pdf 398746 bytes",
		"media doc-2 application/pdf 398223 bytes",
	},
	// LDL-SES: the allergy entry has neither agent nor value code and its
	// text reference (#NO-ALL) is missing from the narrative: its type only,
	// marked unspecified (the section's narrative says "Aucune allergie /
	// intolérance identifiée pendant le séjour", lines 1250-1252: the entry
	// is shown as one to check, never as a drug allergy).
	"LDL-SES_2022.01.xml": {
		"med given \"SOLIAN 100 mg\" product=60019927 start=01/08/2018 end=29/10/2019",
		"med given \"LEPONEX 100 mg\" atc=N05AH02 product=62552920 start=03/12/2019 end=02/02/2020",
		"allergy \"allergie médicamenteuse\" unspecified",
		"device \"STIMULATEURS CARDIAQUES IMPLANTABLES TRIPLE CHAMBRE\" type=J010104 date=03/12/2018 09:49",
	},
	"VSM_1.4_2022.01.xml": {
		"med given \"PLAVIX 75 mg\" product=63564053 start=11/08/2019",
		"med given \"COUMADINE 5mg\" product=63245753 start=11/08/2019",
		"allergy \"Paracétamol\" agent=60234100 start=03/06/2018",
		"problem G45.9 \"Accident ischémique cérébral transitoire\" start=11/08/2019",
		"problem I20.0 \"Angine de poitrine instable\" start=11/08/2019",
		"problem N10 \"Pyélonéphrite aiguë\" start=22/04/2018",
		"problem I21.1 \"Infarctus transmural inférieur\" start=14/01/2018",
	},
	// eDISP: two entry-level supply (FR-Traitement-dispense) without date:
	// the section author (the pharmacist of "Pharmacie du village", time
	// 20211201093000) dates them; the dosage comes from the COMP
	// substanceAdministration; the preparation's references point to no
	// narrative ID, its form names it.
	"eDISP-MED_2024.01.xml": {
		"med dispensed \"PARACETAMOL VIATRIS 500 mg, comprimé plaquette(s) thermoformée(s) PVC-aluminium de 16 comprimé(s)\" subst=\"Paracetamol\" atc=N02BE01 product=3400933516390 start=25/01/2023 end=27/01/2023 dispensed=01/12/2021 09:30 qty=2 by=\"Pharmacie du village\"",
		"med dispensed \"pommade pour application cutanée et nasale\" dispensed=01/12/2021 09:30 qty=1 by=\"Pharmacie du village\"",
	},
	// eP-MED: the medical bed is a supply moodCode="INT" (line 1382), a
	// prescription (60-day rental), not a device in the patient. The
	// illustrative image Code2dPDF is declared image/jpeg and is
	// a PNG (typed by its bytes, flagged).
	"eP-MED-DM_2024.01_PosoStruct.xml": {
		"med prescribed \"PARACETAMOL MYLAN 500 mg, comprimé\" subst=\"Paracetamol\" atc=N02BE01 product=63107752 start=01/12/2023 end=06/12/2023",
		"med prescribed \"Préparation magistrale : - 30g de diprosone - 70g de Cérat Frais de Galien\" start=01/12/2023 end=06/12/2023",
		"device planned \"LITS MÉDICAUX\" type=V0806 date=01/12/2023",
		"media Code2dPDF image/png 6954 bytes",
		"media doc-1 application/pdf 95736 bytes",
	},
}

func TestSampleGoldens(t *testing.T) {
	if len(sampleGoldens) != 14 {
		t.Fatalf("%d goldens, want the 14 samples", len(sampleGoldens))
	}
	for name, want := range sampleGoldens {
		t.Run(name, func(t *testing.T) {
			d := parseSample(t, name)
			got := golden(d)
			for i := 0; i < len(got) || i < len(want); i++ {
				var g, w string
				if i < len(got) {
					g = got[i]
				}
				if i < len(want) {
					w = want[i]
				}
				if g != w {
					t.Errorf("line %d:\n got %s\nwant %s", i, g, w)
				}
			}
			for _, l := range got {
				for _, bad := range []string{`"Oui"`, `"Non"`, `""`} {
					if strings.Contains(l, bad) {
						t.Errorf("a fact named %s: %s", bad, l)
					}
				}
			}
		})
	}
}
