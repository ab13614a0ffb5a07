# bench/json_field.awk — shared by bench/run.sh and bench/tune.sh (awk -f).
# field(NAME, LINE): the value of JSON member NAME in LINE, one object of
# `hyc bench -o json`: a number or a plain string (quotes removed), "" when
# absent.
function field(name, line,   re, s) {
    re = "\"" name "\": (\"[^\"]*\"|[-0-9.e+]+)"
    if (!match(line, re)) return ""
    s = substr(line, RSTART + length(name) + 4, RLENGTH - length(name) - 4)
    gsub(/"/, "", s)
    return s
}
