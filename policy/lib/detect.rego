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
# (0 is the whole match; of alternative groups only the one that matched is non-empty).
text_detectors := [
	# AKIA (long-term) or ASIA (temporary) and 16 more. AWS's documented example key
	# AKIAIOSFODNN7EXAMPLE matches too, deliberately: it is shaped exactly like a real one, and
	# telling them apart by a suffix would let a key through whenever it happens to look like one.
	{"kind": "aws_access_key_id", "pattern": `\b(?:AKIA|ASIA)[A-Z0-9]{16}\b`, "groups": [0]},
	# 40 base64 characters, only right after a label naming them (aws_secret_access_key = ...,
	# "SecretAccessKey": "..."): any 40-character base64 string alone would be far too common.
	{
		"kind": "aws_secret_access_key",
		"pattern": concat("", [
			`(?i)(?:aws_?)?secret_?access_?key["']?\s*[:=]\s*["']?`,
			`([A-Za-z0-9/+]{40})(?:[^A-Za-z0-9/+=]|$)`,
		]),
		"groups": [1],
	},
	# The whole PEM block; a block cut short (no END line) is redacted to the end of the string.
	{
		"kind": "private_key",
		"pattern": concat("", [
			`-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----`,
			`(?s:.*?-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----|.*)`,
		]),
		"groups": [0],
	},
	{"kind": "github_token", "pattern": `\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,})`, "groups": [0]},
	{"kind": "slack_token", "pattern": `\bxox[abprs]-[A-Za-z0-9-]{10,}`, "groups": [0]},
	{"kind": "stripe_key", "pattern": `\b[rs]k_(?:live|test)_[A-Za-z0-9]{16,}`, "groups": [0]},
	# header.payload.signature, base64url; the header is a JSON object, so it starts eyJ ({").
	# The signature may be empty (alg none).
	{"kind": "jwt", "pattern": `\beyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]*`, "groups": [0]},
	# key=value (URLs, .env files, logs): the value quoted, or up to a space, quote, & , ; < >.
	{
		"kind": "secret_assignment",
		"pattern": concat("", [`\b(`, secret_key, `)\s*=\s*(?:`, quoted_value, `|([^\s"'&,;<>]{4,}))`]),
		"groups": [2, 3, 4],
	},
	# "key": "value" (JSON) and key: 'value' (YAML): only a quoted value, since after a colon an
	# unquoted word is as likely prose ("the token: is invalid") as a secret.
	{
		"kind": "secret_assignment",
		"pattern": concat("", [`\b(`, secret_key, `)["']?\s*:\s*`, quoted_value]),
		"groups": [2, 3],
	},
	{"kind": "email", "pattern": `[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}`, "groups": [0]},
	# 13 to 19 digits, unbroken or in the groups cards are printed in (4-4-4-4, 4-6-5, ...), the
	# first being 2 to 6 (the networks' ranges). That leaves out millisecond timestamps (1...),
	# and the Luhn check (card_checked) most other numbers.
	{
		"kind": "card_number",
		"pattern": `\b[2-6](?:\d{12,18}|\d{3}(?:[ -]\d{4}){2,3}(?:[ -]\d{1,3})?|\d{3}[ -]\d{6}[ -]\d{4,5})\b`,
		"groups": [0],
	},
	# Country, 2 check digits, up to 30 letters and digits; unbroken, or in groups of 4. Checked by
	# mod 97 (iban_checked), not by each country's length.
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
	},
	{"kind": "injection", "pattern": `(?i)\bdisregard\b[^.\n]{0,60}?\bsystem\s+prompt`, "groups": [0]},
	{"kind": "injection", "pattern": `(?is)<important>(?:.*?</important>|.*)`, "groups": [0]},
	{"kind": "injection", "pattern": `[\x{E0000}-\x{E007F}]+`, "groups": [0]},
	{"kind": "injection", "pattern": `[\x{200B}-\x{200D}\x{2060}\x{FEFF}]{3,}`, "groups": [0]},
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

detector_matches(detector, text) := {checked |
	some match in regex.find_all_string_submatch_n(detector.pattern, text, -1)
	found := concat("", [match[group] | some group in detector.groups])
	found != ""
	checked := detector_checked(detector.kind, match, found)
}

# --- checks -----------------------------------------------------------------------------------

# detector_checked(kind, match, found) is the text a match of kind yields once checked: found
# itself, a part of it, or undefined when the check rejects it.
detector_checked(kind, _, found) := found if not kind in checked_kinds

detector_checked("card_number", _, found) := found if card_checked(found)

detector_checked("iban", _, found) := iban_checked(found)

detector_checked("secret_assignment", match, found) := found if secret_checked("secret_assignment", match[1], found)

checked_kinds := {"card_number", "iban", "secret_assignment"}

# secret_checked(kind, key, value): a secret_assignment is not a pagination token (NextToken,
# page_token, ...: the agent needs those to read on) nor a literal that is no secret (true, null);
# other kinds pass.
secret_checked(kind, _, _) if kind != "secret_assignment"

secret_checked("secret_assignment", key, value) if {
	not regex.match(`(?i)(?:page|next|continuation|cursor|sync|resume)[_.-]?token$`, key)
	not lower(value) in {"true", "false", "null", "none", "undefined"}
}

# card_checked(found) holds when found has 13 to 19 digits that pass the Luhn check.
# Example: card_checked("4111 1111 1111 1111"); not card_checked("4111 1111 1111 1112")
card_checked(found) if {
	digits := strings.replace_n({" ": "", "-": ""}, found)
	count(digits) >= 13
	count(digits) <= 19
	luhn(digits)
}

# luhn(digits): from the right, every second digit doubled (its digits summed), the sum ends in 0.
luhn(digits) if {
	n := count(digits)
	total := sum([value |
		some i in numbers.range(0, n - 1)
		digit := to_number(substring(digits, (n - 1) - i, 1))
		value := [digit, luhn_doubled[digit]][i % 2]
	])
	total % 10 == 0
}

luhn_doubled := [0, 2, 4, 6, 8, 1, 3, 5, 7, 9]

# iban_checked(found) is the longest IBAN found starts with that passes mod 97: a printed IBAN
# followed by a short word in capitals ("BE68 5390 0754 7034 EUR") matches with the word, so the
# groups at the end are dropped one by one (at most 8 tries). Undefined when none passes.
# Example: iban_checked("BE68 5390 0754 7034 EUR") == "BE68 5390 0754 7034"
iban_checked(found) := candidates[0] if {
	groups := split(found, " ")
	candidates := [candidate |
		some i in numbers.range(count(groups), 1)
		candidate := concat(" ", array.slice(groups, 0, i))
		iban_valid(candidate)
	]
	count(candidates) > 0
}

# iban_valid(text) holds for an IBAN of 15 to 34 characters (spaces aside) whose check digits
# are right (ISO 13616): the first four moved to the end, letters as 10..35, the number mod 97 is 1.
# Example: iban_valid("GB82WEST12345698765432")
iban_valid(text) if {
	iban := replace(text, " ", "")
	count(iban) >= 15
	count(iban) <= 34
	regex.match(`^[A-Z]{2}[0-9]{2}[A-Z0-9]+$`, iban)
	mod97(concat("", [substring(iban, 4, -1), substring(iban, 0, 4)])) == 1
}

# mod97(text): text as a number, letters as 10..35, mod 97. The number has up to 68 digits, so it
# is summed in pairs of digits from the right: 100 = 3 (mod 97), so pair k weighs 3^k mod 97.
mod97(text) := total % 97 if {
	digits := concat("", [iban_digits(char) | some char in split(text, "")])
	padded := concat("", [substring("0", 0, count(digits) % 2), digits])
	total := sum([value |
		some k, weight in pow3_mod97
		start := count(padded) - (2 * (k + 1))
		start >= 0
		value := to_number(substring(padded, start, 2)) * weight
	])
}

iban_digits(char) := char if {
	indexof("0123456789", char) >= 0
} else := format_int(indexof("ABCDEFGHIJKLMNOPQRSTUVWXYZ", char) + 10, 10)

# pow3_mod97[k] is 3^k mod 97, for k < 34 (3^33 < 2^53, so the product is exact).
pow3_mod97 := [weight |
	some k in numbers.range(0, 33)
	weight := product([3 | some j in numbers.range(1, 33); j <= k]) % 97
]

# pointer_key(path) is the last segment of a JSON pointer, unescaped (~1 is /, ~0 is ~).
# Example: pointer_key("/structuredContent/db/password") == "password"
pointer_key(path) := replace(replace(segments[count(segments) - 1], "~1", "/"), "~0", "~") if {
	segments := split(path, "/")
}
