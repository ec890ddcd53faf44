# Detectors: find sensitive content in the strings of a result (credentials, personal data,
# prompt injection), for the result policy (data.mcp.result, policy/mcp/result.rego).
#
# Each detector finds, in one string, the exact substrings to act on: Warden replaces every
# occurrence of each of them, in every string of the result, with "[REDACTED:<kind>]". So a
# detector returns the value, not its surroundings: `password=hunter22` yields "hunter22".
#
# Vocabulary used below:
#   kind:    what a detector finds ("aws_access_key_id", "email"); names the placeholder.
#   family:  a group of kinds ("credentials", "pii", "injection") that data.results redacts or
#            denies as one; each family has a label the result is given when one of its kinds is
#            found (credentials -> secret).
#   finding: {"kind", "family", "text"}: one substring a detector found.
#
# Cost: every detector is one RE2 search over the string (regex.find_all_string_submatch_n, linear
# in its length), and the checks that need more than a pattern (Luhn, IBAN mod 97) run only on the
# candidates it found, each bounded by the candidate's length. Nothing here compares a string, or
# a finding, with another. Keep it that way: the result policy runs every detector on every string
# of every result. RE2 has no look-around and no back-references; what a pattern cannot say, the
# detector's check says (checks below).
package lib

# detector_families: each family's label.
detector_families := {
	"credentials": "secret",
	"pii": "pii",
	"injection": "injection",
}

# detector_kinds: each kind's family.
detector_kinds := {
	"aws_access_key_id": "credentials",
	"aws_secret_access_key": "credentials",
	"private_key": "credentials",
	"github_token": "credentials",
	"slack_token": "credentials",
	"stripe_key": "credentials",
	"jwt": "credentials",
	"secret_assignment": "credentials",
	"email": "pii",
	"card_number": "pii",
	"iban": "pii",
	"injection": "injection",
}

# generic_kinds: kinds that yield to a more specific one finding the same text, so that
# `token=ghp_...` is redacted as a github_token rather than as a secret_assignment.
generic_kinds := {"secret_assignment"}

# secret_key names a key whose value is a secret: password, passwd, secret, api_key / apikey /
# api-key, token, with any prefix (db_password, client_secret, accessToken, X-Api-Key), matched
# case-insensitively. The name must end there: secret_name, max_tokens and token_type are not.
secret_key := `(?i:[a-z0-9_.-]*(?:password|passwd|secret|api[_-]?key|token))`

# A quoted value: "..." with JSON escapes, or '...'; at least 4 characters, so that a stray
# `token: "x"` cannot redact every "x" of the result.
quoted_value := `(?:"((?:[^"\\\n]|\\.){4,})"|'([^'\n]{4,})')`

# text_detectors: one RE2 pattern each; the text a match yields is its `groups` submatches joined
# (0 is the whole match; of alternative groups only the one that matched is non-empty). `screen`:
# literals of which every match holds one, checked first (see screened); `fold`: the pattern is
# case-insensitive, so the screen is looked for in the lower-cased text.
text_detectors := [
	# AKIA (long-term) or ASIA (temporary) and 16 more. AWS's documented example key
	# AKIAIOSFODNN7EXAMPLE matches too, deliberately: it is shaped exactly like a real one, and
	# telling them apart by a suffix would let a key through whenever it happens to look like one.
	{
		"kind": "aws_access_key_id",
		"pattern": `\b(?:AKIA|ASIA)[A-Z0-9]{16}\b`,
		"groups": [0],
		"screen": ["AKIA", "ASIA"],
	},
	# 40 base64 characters, only right after a label naming them (aws_secret_access_key = ...,
	# "SecretAccessKey": "..."): any 40-character base64 string alone would be far too common.
	{
		"kind": "aws_secret_access_key",
		"pattern": concat("", [
			`(?i)(?:aws_?)?secret_?access_?key["']?\s*[:=]\s*["']?`,
			`([A-Za-z0-9/+]{40})(?:[^A-Za-z0-9/+=]|$)`,
		]),
		"groups": [1],
		"screen": ["ecret"],
		"fold": true,
	},
	# The whole PEM block; a block cut short (no END line) is redacted to the end of the string.
	{
		"kind": "private_key",
		"pattern": concat("", [
			`-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----`,
			`(?s:.*?-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----|.*)`,
		]),
		"groups": [0],
		"screen": ["PRIVATE KEY"],
	},
	{
		"kind": "github_token",
		"pattern": `\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,})`,
		"groups": [0],
		"screen": ["gh", "github_pat_"],
	},
	{"kind": "slack_token", "pattern": `\bxox[abprs]-[A-Za-z0-9-]{10,}`, "groups": [0], "screen": ["xox"]},
	{
		"kind": "stripe_key",
		"pattern": `\b[rs]k_(?:live|test)_[A-Za-z0-9]{16,}`,
		"groups": [0],
		"screen": ["k_live_", "k_test_"],
	},
	# header.payload.signature, base64url; the header is a JSON object, so it starts eyJ ({").
	# The signature may be empty (alg none).
	{
		"kind": "jwt",
		"pattern": `\beyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]*`,
		"groups": [0],
		"screen": ["eyJ"],
	},
	# key=value (URLs, .env files, logs): the value quoted, or up to a space, quote, & , ; < >.
	{
		"kind": "secret_assignment",
		"pattern": concat("", [`\b(`, secret_key, `)\s*=\s*(?:`, quoted_value, `|([^\s"'&,;<>]{4,}))`]),
		"groups": [2, 3, 4],
		"screen": ["="],
	},
	# "key": "value" (JSON) and key: 'value' (YAML): only a quoted value, since after a colon an
	# unquoted word is as likely prose ("the token: is invalid") as a secret.
	{
		"kind": "secret_assignment",
		"pattern": concat("", [`\b(`, secret_key, `)["']?\s*:\s*`, quoted_value]),
		"groups": [2, 3],
		"screen": [":"],
	},
	{
		"kind": "email",
		"pattern": `[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}`,
		"groups": [0],
		"screen": ["@"],
	},
	# 13 to 19 digits, unbroken or in the groups cards are printed in (4-4-4-4, 4-6-5, ...), the
	# first being 2 to 6 (the networks' ranges). That leaves out millisecond timestamps (1...),
	# and the Luhn check (card_checked) most other numbers.
	{
		"kind": "card_number",
		"pattern": `\b[2-6](?:\d{12,18}|\d{3}(?:[ -]\d{4}){2,3}(?:[ -]\d{1,3})?|\d{3}[ -]\d{6}[ -]\d{4,5})\b`,
		"groups": [0],
	},
	# Country, 2 check digits, up to 30 letters and digits; unbroken, or in groups of 4. Checked
	# by its country's length and mod 97 (iban_checked).
	{"kind": "iban", "pattern": `\b[A-Z]{2}\d{2}[A-Z0-9]{11,30}\b`, "groups": [0]},
	{"kind": "iban", "pattern": `\b[A-Z]{2}\d{2}(?: [A-Z0-9]{4}){2,7}(?: [A-Z0-9]{1,3})?\b`, "groups": [0]},
	# Prompt injection, in the forms tool poisoning uses: instructions to forget the real ones,
	# <IMPORTANT> blocks (to the end of the string when unclosed), and text the user cannot see:
	# Unicode tag characters (ASCII smuggling) and runs of zero-width characters.
	{
		"kind": "injection",
		"pattern": concat("", [
			`(?i)\b(?:ignore|forget|disregard)\s+(?:all\s+|any\s+)?(?:of\s+)?(?:the\s+|your\s+|my\s+)?`,
			`(?:previous|prior|above|earlier|preceding)\s+(?:instructions|directions|prompts?|rules)`,
		]),
		"groups": [0],
		"screen": ["ignore", "forget", "regard"],
		"fold": true,
	},
	{
		"kind": "injection",
		"pattern": `(?i)\bdisregard\b[^.\n]{0,60}?\bsystem\s+prompt`,
		"groups": [0],
		"screen": ["regard"],
		"fold": true,
	},
	{
		"kind": "injection",
		"pattern": `(?is)<important>(?:.*?</important>|.*)`,
		"groups": [0],
		"screen": ["<important>"],
		"fold": true,
	},
	{"kind": "injection", "pattern": `[\x{E0000}-\x{E007F}]+`, "groups": [0]},
	{
		"kind": "injection",
		"pattern": `[\x{200B}-\x{200D}\x{2060}\x{FEFF}]{3,}`,
		"groups": [0],
		"screen": ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff"],
	},
]

# field_detectors: a string is a secret as a whole when the key it is stored under says so, as in
# structuredContent {"password": "hunter22"} (Warden's texts entry /structuredContent/password).
# `field` is matched against the last segment of the string's JSON pointer, `value` against it.
field_detectors := [
	{
		"kind": "aws_secret_access_key",
		"field": `(?i)^(?:aws_?)?secret_?access_?key$`,
		"value": `^[A-Za-z0-9/+]{40}$`,
	},
	{"kind": "secret_assignment", "field": concat("", ["^", secret_key, "$"]), "value": `^(?s:.{4,})$`},
]

# findings(text) is the set of findings of every text detector in text.
# Example: findings("key AKIAIOSFODNN7EXAMPLE") == {{"kind": "aws_access_key_id", "family": "credentials",
#          "text": "AKIAIOSFODNN7EXAMPLE"}}
findings(text) := {finding |
	some detector in text_detectors
	some found in detector_matches(detector, text)
	finding := {"kind": detector.kind, "family": detector_kinds[detector.kind], "text": found}
}

# field_findings(path, text) is the set of findings of the field detectors for the string text
# stored at the JSON pointer path.
# Example: field_findings("/structuredContent/db/password", "hunter22")
field_findings(path, text) := {finding |
	key := pointer_key(path)
	some detector in field_detectors
	regex.match(detector.field, key)
	regex.match(detector.value, text)
	secret_checked(detector.kind, key, text)
	finding := {"kind": detector.kind, "family": detector_kinds[detector.kind], "text": text}
}

# detect(kind, text) is the set of substrings of text that the text detectors of kind find.
# Example: detect("email", "write to bob@example.com") == {"bob@example.com"}
detect(kind, text) := {finding.text | some finding in findings(text); finding.kind == kind}

# A match's candidate is [found, key]: the text it yields and, for a key=value detector, the key
# (submatch 1); a set, so that a string repeating one line checks it once.
detector_matches(detector, text) := {checked |
	screened(detector, text)
	matches := regex.find_all_string_submatch_n(detector.pattern, text, -1)
	candidates := {[found, array.slice(match, 1, 2)] |
		some match in matches
		found := concat("", [match[group] | some group in detector.groups])
		found != ""
	}
	some [found, key] in candidates
	checked := detector_checked(detector.kind, key, found, count(candidates))
}

# screened(detector, text) holds when text may hold a match of the detector: it holds one of the
# detector's screen literals, or the detector has none. A screen is only ever a necessary
# condition, so it changes no finding; it spares the regex, which OPA's Wasm compiles anew in
# every evaluation (its regex cache lives on the heap each evaluation resets), and that compile
# is most of what a result costs. A folded screen has no s or k: RE2 folds those to ſ and K,
# which lower() leaves as they are.
screened(detector, _) if not detector.screen

screened(detector, text) if {
	not detector.fold
	some literal in detector.screen
	contains(text, literal)
}

screened(detector, text) if {
	detector.fold
	some literal in detector.screen
	contains(lower(text), literal)
}

# --- checks -----------------------------------------------------------------------------------

# detector_checked(kind, key, found, candidates) is the text a candidate of kind yields once
# checked: found itself, a part of it, or undefined when the check rejects it. key: [the key] or [];
# candidates: how many distinct ones the detector found in the string.
detector_checked(kind, _, found, _) := found if not kind in checked_kinds

detector_checked("secret_assignment", [key], found, _) := found if secret_checked("secret_assignment", key, found)

# The costly checks cost a few KiB of Wasm memory per candidate, which a megabyte of card-shaped
# numbers would multiply past the evaluation's memory budget. Past check_limit candidates in one
# string, every one counts as found: redacting too much, rather than failing the result or
# letting one through unchecked.
detector_checked(kind, _, found, candidates) := found if {
	kind in costly_checked_kinds
	candidates > check_limit
}

detector_checked("card_number", _, found, candidates) := found if {
	candidates <= check_limit
	card_checked(found)
}

detector_checked("iban", _, found, candidates) := iban_checked(found) if candidates <= check_limit

checked_kinds := costly_checked_kinds | {"secret_assignment"}

costly_checked_kinds := {"card_number", "iban"}

check_limit := 1000

# secret_checked(kind, key, value): a secret_assignment is not a pagination token (NextToken,
# page_token, ...: the agent needs those to read on) nor a literal that is no secret (true, null);
# other kinds pass.
secret_checked(kind, _, _) if kind != "secret_assignment"

secret_checked("secret_assignment", key, value) if {
	not regex.match(`(?i)(?:page|next|continuation|cursor|sync|resume)[_.-]?token$`, key)
	not lower(value) in no_secrets
}

no_secrets := {"true", "false", "null", "none", "undefined"}

# card_checked(found) holds when found has 13 to 19 digits that pass the Luhn check.
# Example: card_checked("4111 1111 1111 1111"); not card_checked("4111 1111 1111 1112")
card_checked(found) if {
	digits := strings.replace_n(card_separators, found)
	count(digits) >= 13
	count(digits) <= 19
	luhn(digits)
}

card_separators := {" ": "", "-": ""}

# luhn(digits): from the right, every second digit doubled (its digits summed), the sum ends in 0.
# By table look-up: to_number would refuse "05".
luhn(digits) if {
	total := sum([luhn_values[i % 2][char] | some i, char in array.reverse(split(digits, ""))])
	total % 10 == 0
}

# luhn_values[0] is each digit's value, luhn_values[1] its value doubled.
luhn_values := [
	{"0": 0, "1": 1, "2": 2, "3": 3, "4": 4, "5": 5, "6": 6, "7": 7, "8": 8, "9": 9},
	{"0": 0, "1": 2, "2": 4, "3": 6, "4": 8, "5": 1, "6": 3, "7": 5, "8": 7, "9": 9},
]

# iban_checked(found) is the IBAN found starts with, as long as its country's IBANs are, when its
# check digits are right. A printed IBAN followed by a short word in capitals ("BE68 5390 0754 7034
# EUR") matches with the word; printed in groups of 4 (the pattern says so), `length` characters
# take (length - 1) / 4 spaces. Undefined for a country without IBANs, or a wrong length.
# Example: iban_checked("BE68 5390 0754 7034 EUR") == "BE68 5390 0754 7034"
iban_checked(found) := iban if {
	length := iban_lengths[substring(found, 0, 2)]
	iban := substring(found, 0, length + iban_spaces(found, length))
	substring(found, count(iban), 1) in {"", " "} # not cut out of a longer group, or word
	compact := replace(iban, " ", "")
	count(compact) == length
	mod97(concat("", [substring(compact, 4, -1), substring(compact, 0, 4)])) == 1
}

iban_spaces(found, length) := floor((length - 1) / 4) if contains(found, " ")

else := 0

# iban_valid(text) holds for an IBAN, printed or not, of the right length with the right check
# digits (ISO 13616).
# Example: iban_valid("GB82WEST12345698765432"); iban_valid("GB82 WEST 1234 5698 7654 32")
iban_valid(text) if iban_checked(text) == text

# mod97(text): text as a number, its letters as 10..35, mod 97. That number has up to 68 digits,
# so it is summed in chunks of 8 from the right: 10^8 = 81 (mod 97), so chunk k weighs 81^k mod 97.
# Each chunk is read as 1<chunk> - 10^8, since to_number refuses leading zeros.
mod97(text) := total % 97 if {
	digits := strings.replace_n(iban_letters, text)
	padded := concat("", [substring("0000000", 0, (8 - (count(digits) % 8)) % 8), digits])
	chunks := count(padded) / 8
	total := sum([value |
		some k, weight in pow_1e8_mod97
		k < chunks
		chunk := substring(padded, count(padded) - (8 * (k + 1)), 8)
		value := (to_number(concat("", ["1", chunk])) - 100000000) * weight
	])
}

# pow_1e8_mod97[k] is 81^k mod 97, for the 9 chunks of 68 digits (81^8 < 2^53: the product is exact).
pow_1e8_mod97 := [weight |
	some k in numbers.range(0, 8)
	weight := product([81 | some j in numbers.range(1, 8); j <= k]) % 97
]

iban_letters := {
	"A": "10", "B": "11", "C": "12", "D": "13", "E": "14", "F": "15", "G": "16", "H": "17", "I": "18",
	"J": "19", "K": "20", "L": "21", "M": "22", "N": "23", "O": "24", "P": "25", "Q": "26", "R": "27",
	"S": "28", "T": "29", "U": "30", "V": "31", "W": "32", "X": "33", "Y": "34", "Z": "35",
}

# iban_lengths: the countries of the SWIFT IBAN registry, and the length of their IBANs. A country
# not listed here has no IBAN as far as the detector is concerned: add it when the registry does.
iban_lengths := {
	"AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22, "BI": 27,
	"BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DJ": 27, "DK": 18, "DO": 28,
	"EE": 20, "EG": 29, "ES": 24, "FI": 18, "FK": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23,
	"GL": 18, "GR": 27, "GT": 28, "HN": 28, "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26,
	"IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20, "LV": 21,
	"LY": 25, "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MN": 20, "MR": 27, "MT": 31, "MU": 30, "NI": 28,
	"NL": 18, "NO": 15, "OM": 23, "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22,
	"RU": 33, "SA": 24, "SC": 31, "SD": 18, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "SO": 23, "ST": 25,
	"SV": 28, "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20, "YE": 30,
}

# pointer_key(path) is the last segment of a JSON pointer, unescaped (~1 is /, ~0 is ~).
# Example: pointer_key("/structuredContent/db/password") == "password"
pointer_key(path) := replace(replace(segments[count(segments) - 1], "~1", "/"), "~0", "~") if {
	segments := split(path, "/")
}
