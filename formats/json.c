/* json.c — a strict JSON (RFC 8259) parser into an arena tree, typed getters
 * that report through Diag at the offending node, and string/number writers.
 *
 * The parser is recursive descent with an explicit depth limit, so that no
 * input can exhaust the stack.  It stops at the first error: JSON files are
 * machine-written, and one precise message beats a cascade.
 */
#include "formats.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct JsonParser {
    Arena *arena;
    const SrcFile *file;
    Diag *d;
    const unsigned char *s;
    size_t len, pos;
    int line;           /* of pos; lines only advance in whitespace */
    size_t line_start;  /* offset of the current line's first byte */
    StrBuf scratch;     /* string being unescaped */
} JsonParser;

/* ---- errors ---------------------------------------------------------------- */

static int col_of(const JsonParser *p, size_t pos)
{
    size_t c = pos - p->line_start + 1;
    return c > INT_MAX ? INT_MAX : (int)c;
}

/* The span [pos, end) on the current line; end <= pos+1 is a single caret. */
static SrcLoc span(const JsonParser *p, size_t pos, size_t end)
{
    SrcLoc l = {0};
    l.file = p->file;
    l.line = l.end_line = p->line;
    l.col = col_of(p, pos);
    l.end_col = end > pos + 1 ? col_of(p, end - 1) : 0;
    return l;
}

__attribute__((format(printf, 4, 5)))
static void jp_error(JsonParser *p, size_t pos, size_t end, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    diag_vreport(p->d, DIAG_ERROR, span(p, pos, end), fmt, ap);
    va_end(ap);
}

/* How the byte at POS reads in a message: 'x', byte 0xNN, or end of input. */
static const char *describe_at(const JsonParser *p, size_t pos, char buf[24])
{
    if (pos >= p->len) return "end of input";
    unsigned char c = p->s[pos];
    if (c >= 32 && c < 127) snprintf(buf, 24, "'%c'", c);
    else snprintf(buf, 24, "byte 0x%02x", c);
    return buf;
}

/* ---- lexical helpers ---------------------------------------------------------- */

static int peek(const JsonParser *p) { return p->pos < p->len ? p->s[p->pos] : -1; }

static void skip_ws(JsonParser *p)
{
    while (p->pos < p->len) {
        unsigned char c = p->s[p->pos];
        if (c == '\n') {
            p->pos++;
            p->line++;
            p->line_start = p->pos;
        } else if (c == ' ' || c == '\t' || c == '\r') {
            p->pos++;
        } else {
            break;
        }
    }
}

static bool is_digit(int c) { return c >= '0' && c <= '9'; }
static bool is_word(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) || c == '_';
}

static int hex_val(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Length of the well-formed UTF-8 sequence at S (N bytes left), or 0.
 * Rejects overlong forms, surrogates and code points past U+10FFFF
 * (RFC 3629 table 3-7). */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    size_t need;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) need = 1;
    else if (c >= 0xE0 && c <= 0xEF) {
        need = 2;
        if (c == 0xE0) lo = 0xA0;
        if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 3;
        if (c == 0xF0) lo = 0x90;
        if (c == 0xF4) hi = 0x8F;
    } else {
        return 0;
    }
    if (n < need + 1) return 0;
    if (s[1] < lo || s[1] > hi) return 0;
    for (size_t i = 2; i <= need; i++)
        if ((s[i] & 0xC0) != 0x80) return 0;
    return need + 1;
}

static void put_utf8(StrBuf *sb, uint32_t cp)
{
    char b[4];
    size_t n;
    if (cp < 0x80) {
        b[0] = (char)cp, n = 1;
    } else if (cp < 0x800) {
        b[0] = (char)(0xC0 | (cp >> 6));
        b[1] = (char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        b[0] = (char)(0xE0 | (cp >> 12));
        b[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        b[2] = (char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        b[0] = (char)(0xF0 | (cp >> 18));
        b[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        b[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        b[3] = (char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    sb_putn(sb, b, n);
}

/* ---- strings ------------------------------------------------------------------ */

/* Four hex digits at POS, or -1. */
static long hex4(const JsonParser *p, size_t pos)
{
    if (p->len - pos < 4) return -1;
    long v = 0;
    for (int i = 0; i < 4; i++) {
        int h = hex_val(p->s[pos + (size_t)i]);
        if (h < 0) return -1;
        v = v * 16 + h;
    }
    return v;
}

/* The escape \uXXXX at p->pos (the backslash), with a following low
 * surrogate when XXXX is a high one.  Advances past it. */
static bool parse_u_escape(JsonParser *p)
{
    size_t at = p->pos;
    long cp = hex4(p, at + 2);
    if (cp < 0) {
        jp_error(p, at, at + 2, "invalid \\u escape: expected 4 hex digits after \\u");
        return false;
    }
    p->pos = at + 6;
    if (cp >= 0xDC00 && cp <= 0xDFFF) {
        jp_error(p, at, at + 6, "unpaired low surrogate \\u%04lX in string", cp);
        return false;
    }
    if (cp >= 0xD800 && cp <= 0xDBFF) {
        long lo = -1;
        if (p->len - p->pos >= 2 && p->s[p->pos] == '\\' && p->s[p->pos + 1] == 'u')
            lo = hex4(p, p->pos + 2);
        if (lo < 0xDC00 || lo > 0xDFFF) {
            jp_error(p, at, at + 6,
                     "unpaired high surrogate \\u%04lX in string (a low surrogate \\uDC00-\\uDFFF must follow)",
                     cp);
            return false;
        }
        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        p->pos += 6;
    }
    put_utf8(&p->scratch, (uint32_t)cp);
    return true;
}

/* One escape sequence at p->pos (the backslash). */
static bool parse_escape(JsonParser *p)
{
    size_t at = p->pos;
    if (at + 1 >= p->len) {
        jp_error(p, at, at + 1, "unterminated string: input ends inside an escape");
        return false;
    }
    unsigned char c = p->s[at + 1];
    char out;
    switch (c) {
    case '"': out = '"'; break;
    case '\\': out = '\\'; break;
    case '/': out = '/'; break;
    case 'b': out = '\b'; break;
    case 'f': out = '\f'; break;
    case 'n': out = '\n'; break;
    case 'r': out = '\r'; break;
    case 't': out = '\t'; break;
    case 'u': return parse_u_escape(p);
    default:
        if (c > 32 && c < 127)
            jp_error(p, at, at + 2, "invalid escape '\\%c' in string", c);
        else
            jp_error(p, at, at + 2, "invalid escape: byte 0x%02x after '\\' in string", c);
        return false;
    }
    sb_putc(&p->scratch, out);
    p->pos = at + 2;
    return true;
}

static bool control_char_error(JsonParser *p, unsigned char c)
{
    const char *hint = c == '\n' ? "\\n" : c == '\t' ? "\\t" : c == '\r' ? "\\r" : NULL;
    if (hint)
        jp_error(p, p->pos, p->pos + 1, "control character 0x%02x in string (write it as %s)", c, hint);
    else
        jp_error(p, p->pos, p->pos + 1, "control character 0x%02x in string (write it as \\u%04X)", c, c);
    return false;
}

/* string = '"' char* '"'.  At p->pos (the quote); the unescaped text goes
 * to the arena. */
static bool parse_string(JsonParser *p, const char **out, size_t *out_len)
{
    size_t open = p->pos++;
    p->scratch.len = 0;
    for (;;) {
        if (p->pos >= p->len) {
            jp_error(p, open, open + 1, "unterminated string");
            return false;
        }
        unsigned char c = p->s[p->pos];
        if (c == '"') break;
        if (c == '\\') {
            if (!parse_escape(p)) return false;
        } else if (c < 0x20) {
            return control_char_error(p, c);
        } else if (c < 0x80) {
            /* a run of plain ASCII, copied at once */
            size_t run = p->pos + 1;
            while (run < p->len && p->s[run] >= 0x20 && p->s[run] < 0x80 && p->s[run] != '"' &&
                   p->s[run] != '\\')
                run++;
            sb_putn(&p->scratch, (const char *)p->s + p->pos, run - p->pos);
            p->pos = run;
        } else {
            size_t n = utf8_len(p->s + p->pos, p->len - p->pos);
            if (!n) {
                jp_error(p, p->pos, p->pos + 1, "invalid UTF-8 in string (byte 0x%02x)", c);
                return false;
            }
            sb_putn(&p->scratch, (const char *)p->s + p->pos, n);
            p->pos += n;
        }
    }
    p->pos++;
    *out = arena_strndup(p->arena, p->scratch.data ? p->scratch.data : "", p->scratch.len);
    *out_len = p->scratch.len;
    return true;
}

/* ---- values -------------------------------------------------------------------- */

static JsonValue *new_value(JsonParser *p, JsonKind k, size_t start)
{
    JsonValue *v = ARENA_NEW(p->arena, JsonValue);
    v->kind = k;
    v->loc = span(p, start, start + 1);
    return v;
}

/* Close a value's location at END (exclusive), which may be on a later line. */
static void end_value(JsonParser *p, JsonValue *v, size_t end)
{
    v->loc.end_line = p->line;
    v->loc.end_col = end > 0 ? col_of(p, end - 1) : 0;
    if (v->loc.end_line == v->loc.line && v->loc.end_col <= v->loc.col) v->loc.end_col = 0;
}

static JsonValue *parse_value(JsonParser *p, int depth);

static bool skip_digits(JsonParser *p)
{
    size_t start = p->pos;
    while (is_digit(peek(p))) p->pos++;
    return p->pos > start;
}

/* number = '-'? int frac? exp?  |  '-'? 'Infinity'  |  'NaN' (Python's). */
static JsonValue *parse_number(JsonParser *p)
{
    size_t start = p->pos;
    char buf[24];
    if (peek(p) == '-') p->pos++;
    if (peek(p) == 'I') {
        if (p->len - p->pos >= 8 && memcmp(p->s + p->pos, "Infinity", 8) == 0 &&
            !is_word(p->pos + 8 < p->len ? p->s[p->pos + 8] : 0)) {
            p->pos += 8;
            JsonValue *v = new_value(p, JSON_NUMBER, start);
            v->text = arena_strndup(p->arena, (const char *)p->s + start, p->pos - start);
            v->num = p->s[start] == '-' ? -INFINITY : INFINITY;
            end_value(p, v, p->pos);
            return v;
        }
    }
    if (peek(p) == '0') {
        p->pos++;
        if (is_digit(peek(p))) {
            jp_error(p, start, p->pos + 1, "leading zeros are not allowed in numbers");
            return NULL;
        }
    } else if (!skip_digits(p)) {
        jp_error(p, p->pos, p->pos + 1, "expected a digit after '-', found %s",
                 describe_at(p, p->pos, buf));
        return NULL;
    }
    bool is_int = true;
    if (peek(p) == '.') {
        p->pos++;
        is_int = false;
        if (!skip_digits(p)) {
            jp_error(p, p->pos, p->pos + 1, "expected a digit after '.' in number, found %s",
                     describe_at(p, p->pos, buf));
            return NULL;
        }
    }
    if (peek(p) == 'e' || peek(p) == 'E') {
        p->pos++;
        is_int = false;
        if (peek(p) == '+' || peek(p) == '-') p->pos++;
        if (!skip_digits(p)) {
            jp_error(p, p->pos, p->pos + 1, "expected a digit in the exponent, found %s",
                     describe_at(p, p->pos, buf));
            return NULL;
        }
    }
    JsonValue *v = new_value(p, JSON_NUMBER, start);
    v->text = arena_strndup(p->arena, (const char *)p->s + start, p->pos - start);
    /* The text matched the JSON grammar, which strtod (C locale) reads fully. */
    v->num = strtod(v->text, NULL);
    if (isinf(v->num)) {
        jp_error(p, start, p->pos, "number %s is out of range", v->text);
        return NULL;
    }
    v->is_int = is_int;
    if (is_int) {
        errno = 0;
        long long ll = strtoll(v->text, NULL, 10);
        v->int_fits = errno == 0;
        v->ival = v->int_fits ? (int64_t)ll : 0;
    }
    end_value(p, v, p->pos);
    return v;
}

/* A Python spelling people paste into JSON by mistake, and its JSON form. */
static const char *literal_hint(const char *w)
{
    static const char *const map[][2] = {
        {"True", "true"}, {"False", "false"}, {"None", "null"}, {"TRUE", "true"},
        {"FALSE", "false"}, {"NULL", "null"}, {"nan", "NaN"}, {"inf", "Infinity"},
        {"infinity", "Infinity"}, {"undefined", "null"},
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strcmp(w, map[i][0]) == 0) return map[i][1];
    return NULL;
}

/* literal = 'true' | 'false' | 'null' | 'NaN' (and 'Infinity', a number). */
static JsonValue *parse_literal(JsonParser *p)
{
    size_t start = p->pos;
    while (is_word(peek(p))) p->pos++;
    size_t n = p->pos - start;
    const char *w = (const char *)p->s + start;
    JsonValue *v = NULL;
    if (n == 4 && memcmp(w, "true", 4) == 0) {
        v = new_value(p, JSON_BOOL, start);
        v->boolean = true;
    } else if (n == 5 && memcmp(w, "false", 5) == 0) {
        v = new_value(p, JSON_BOOL, start);
    } else if (n == 4 && memcmp(w, "null", 4) == 0) {
        v = new_value(p, JSON_NULL, start);
    } else if (n == 3 && memcmp(w, "NaN", 3) == 0) {
        v = new_value(p, JSON_NUMBER, start);
        v->text = "NaN";
        v->num = NAN;
    } else if (n == 8 && memcmp(w, "Infinity", 8) == 0) {
        p->pos = start;
        return parse_number(p);
    }
    if (v) {
        end_value(p, v, p->pos);
        return v;
    }
    char word[40];
    snprintf(word, sizeof word, "%.*s%s", n > 32 ? 32 : (int)n, w, n > 32 ? "..." : "");
    const char *hint = literal_hint(word);
    if (hint)
        jp_error(p, start, p->pos, "unknown literal '%s' (JSON writes %s)", word, hint);
    else
        jp_error(p, start, p->pos, "unknown literal '%s' (expected true, false, null or a number)", word);
    return NULL;
}

static uint64_t hash_key(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    return h;
}

static bool same_key(const JsonMember *a, const JsonMember *b)
{
    return a->key_len == b->key_len && memcmp(a->key, b->key, a->key_len) == 0;
}

static void duplicate_error(JsonParser *p, const JsonMember *first, const JsonMember *again)
{
    diag_error(p->d, again->key_loc, "duplicate key \"%s\" in object",
               json_escape(p->arena, again->key, again->key_len));
    diag_note(p->d, first->key_loc, "first defined here");
}

/* Report the first member whose key repeats an earlier one.  A hash set
 * keeps this linear: safetensors headers have thousands of keys. */
static bool check_duplicates(JsonParser *p, const JsonMember *m, int n)
{
    if (n <= 8) {
        for (int j = 1; j < n; j++)
            for (int i = 0; i < j; i++)
                if (same_key(&m[i], &m[j])) return duplicate_error(p, &m[i], &m[j]), false;
        return true;
    }
    size_t cap = 16;
    while (cap < (size_t)n * 2) cap *= 2;
    int *slots = xmalloc(cap * sizeof *slots);
    memset(slots, -1, cap * sizeof *slots);
    bool ok = true;
    for (int j = 0; j < n && ok; j++) {
        size_t h = (size_t)hash_key(m[j].key, m[j].key_len) & (cap - 1);
        for (; slots[h] >= 0; h = (h + 1) & (cap - 1)) {
            if (same_key(&m[slots[h]], &m[j])) {
                duplicate_error(p, &m[slots[h]], &m[j]);
                ok = false;
                break;
            }
        }
        slots[h] = j;
    }
    free(slots);
    return ok;
}

static bool enter(JsonParser *p, int depth)
{
    if (depth < JSON_MAX_DEPTH) return true;
    jp_error(p, p->pos, p->pos + 1, "nesting is deeper than %d levels", JSON_MAX_DEPTH);
    return false;
}

/* Report what stands where a container expected SEP or CLOSE. */
static void container_error(JsonParser *p, char close, const JsonValue *v, const char *after)
{
    char buf[24];
    if (p->pos >= p->len)
        jp_error(p, p->pos, p->pos + 1, "unexpected end of input: '%c' at %d:%d is never closed",
                 close == '}' ? '{' : '[', v->loc.line, v->loc.col);
    else
        jp_error(p, p->pos, p->pos + 1, "expected ',' or '%c' after %s, found %s", close, after,
                 describe_at(p, p->pos, buf));
}

/* member = string ':' value */
static bool parse_member(JsonParser *p, int depth, JsonMember *m)
{
    char buf[24];
    int c = peek(p);
    if (c != '"') {
        if (c == '\'')
            jp_error(p, p->pos, p->pos + 1, "strings must use double quotes");
        else if (is_word(c))
            jp_error(p, p->pos, p->pos + 1, "object keys must be double-quoted strings");
        else
            jp_error(p, p->pos, p->pos + 1, "expected a string key, found %s",
                     describe_at(p, p->pos, buf));
        return false;
    }
    size_t kstart = p->pos;
    if (!parse_string(p, &m->key, &m->key_len)) return false;
    m->key_loc = span(p, kstart, p->pos);
    skip_ws(p);
    if (peek(p) != ':') {
        jp_error(p, p->pos, p->pos + 1, "expected ':' after object key, found %s",
                 describe_at(p, p->pos, buf));
        return false;
    }
    p->pos++;
    m->value = parse_value(p, depth);
    return m->value != NULL;
}

/* object = '{' [ member (',' member)* ] '}' */
static JsonValue *parse_object(JsonParser *p, int depth)
{
    if (!enter(p, depth)) return NULL;
    JsonValue *v = new_value(p, JSON_OBJECT, p->pos++);
    Vec(JsonMember) ms = {0};
    bool ok = true;
    skip_ws(p);
    if (peek(p) == '}') goto done;
    for (;;) {
        skip_ws(p);
        if (peek(p) == '}' && ms.len > 0) {
            jp_error(p, p->pos, p->pos + 1, "trailing comma before '}'");
            ok = false;
            break;
        }
        JsonMember m = {0};
        if (!parse_member(p, depth + 1, &m)) {
            ok = false;
            break;
        }
        vec_push(&ms, m);
        skip_ws(p);
        if (peek(p) == ',') {
            p->pos++;
            continue;
        }
        if (peek(p) == '}') break;
        container_error(p, '}', v, "object member");
        ok = false;
        break;
    }
    ok = ok && check_duplicates(p, ms.data, ms.len);
    v->members = ok ? vec_to_arena(p->arena, &ms) : NULL;
    v->len = ok ? ms.len : 0;
    vec_free(&ms);
    if (!ok) return NULL;
done:
    p->pos++;
    end_value(p, v, p->pos);
    return v;
}

/* array = '[' [ value (',' value)* ] ']' */
static JsonValue *parse_array(JsonParser *p, int depth)
{
    if (!enter(p, depth)) return NULL;
    JsonValue *v = new_value(p, JSON_ARRAY, p->pos++);
    Vec(JsonValue *) items = {0};
    bool ok = true;
    skip_ws(p);
    if (peek(p) == ']') goto done;
    for (;;) {
        skip_ws(p);
        if (peek(p) == ']' && items.len > 0) {
            jp_error(p, p->pos, p->pos + 1, "trailing comma before ']'");
            ok = false;
            break;
        }
        JsonValue *item = parse_value(p, depth + 1);
        if (!item) {
            ok = false;
            break;
        }
        vec_push(&items, item);
        skip_ws(p);
        if (peek(p) == ',') {
            p->pos++;
            continue;
        }
        if (peek(p) == ']') break;
        container_error(p, ']', v, "array element");
        ok = false;
        break;
    }
    v->items = ok ? vec_to_arena(p->arena, &items) : NULL;
    v->len = ok ? items.len : 0;
    vec_free(&items);
    if (!ok) return NULL;
done:
    p->pos++;
    end_value(p, v, p->pos);
    return v;
}

/* value = object | array | string | number | literal.  DEPTH counts the
 * containers around it. */
static JsonValue *parse_value(JsonParser *p, int depth)
{
    char buf[24];
    skip_ws(p);
    int c = peek(p);
    size_t start = p->pos;
    switch (c) {
    case '{': return parse_object(p, depth);
    case '[': return parse_array(p, depth);
    case '"': {
        JsonValue *v = new_value(p, JSON_STRING, start);
        if (!parse_string(p, &v->str, &v->str_len)) return NULL;
        end_value(p, v, p->pos);
        return v;
    }
    case '\'':
        jp_error(p, start, start + 1, "strings must use double quotes");
        return NULL;
    case '/':
        jp_error(p, start, start + 1, "comments are not allowed in JSON");
        return NULL;
    default:
        break;
    }
    if (c == '-' || is_digit(c)) return parse_number(p);
    if (is_word(c)) return parse_literal(p);
    jp_error(p, start, start + 1, "expected a JSON value, found %s", describe_at(p, start, buf));
    return NULL;
}

JsonValue *json_parse(Arena *a, const SrcFile *file, Diag *d)
{
    JsonParser p = {0};
    p.arena = a;
    p.file = file;
    p.d = d;
    p.s = (const unsigned char *)file->text;
    p.len = file->len;
    p.line = 1;
    if (p.len >= 3 && memcmp(p.s, "\xEF\xBB\xBF", 3) == 0) p.pos = p.line_start = 3;
    JsonValue *v = parse_value(&p, 0);
    if (v) {
        skip_ws(&p);
        if (p.pos < p.len) {
            char buf[24];
            jp_error(&p, p.pos, p.pos + 1, "expected end of input after the JSON value, found %s",
                     describe_at(&p, p.pos, buf));
            v = NULL;
        }
    }
    sb_free(&p.scratch);
    return v;
}

JsonValue *json_parse_file(Arena *a, const char *path, Diag *d)
{
    SrcFile *f = ARENA_NEW(a, SrcFile);
    f->name = arena_strdup(a, path);
    size_t len;
    struct stat sb;
    char *text = NULL;
    /* read_file would fail on a directory with a vague EIO */
    if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) errno = EISDIR;
    else text = read_file(path, &len);
    if (!text) {
        diag_error(d, loc_file(f), "cannot read: %s", strerror(errno));
        return NULL;
    }
    char *copy = arena_alloc(a, len + 1);
    memcpy(copy, text, len + 1);
    free(text);
    f->text = copy;
    f->len = len;
    return json_parse(a, f, d);
}

/* ---- navigation ------------------------------------------------------------------ */

const char *json_kind_name(JsonKind k)
{
    switch (k) {
    case JSON_NULL: return "null";
    case JSON_BOOL: return "a boolean";
    case JSON_NUMBER: return "a number";
    case JSON_STRING: return "a string";
    case JSON_ARRAY: return "an array";
    case JSON_OBJECT: return "an object";
    }
    return "?";
}

JsonValue *json_get(const JsonValue *obj, const char *key)
{
    if (!obj || obj->kind != JSON_OBJECT) return NULL;
    size_t n = strlen(key);
    for (int i = 0; i < obj->len; i++) {
        const JsonMember *m = &obj->members[i];
        if (m->key_len == n && memcmp(m->key, key, n) == 0) return m->value;
    }
    return NULL;
}

int json_len(const JsonValue *v)
{
    return v && (v->kind == JSON_ARRAY || v->kind == JSON_OBJECT) ? v->len : 0;
}

JsonValue *json_at(const JsonValue *arr, int i)
{
    if (!arr || arr->kind != JSON_ARRAY || i < 0 || i >= arr->len) return NULL;
    return arr->items[i];
}

const JsonMember *json_member(const JsonValue *obj, int i)
{
    if (!obj || obj->kind != JSON_OBJECT || i < 0 || i >= obj->len) return NULL;
    return &obj->members[i];
}

/* ---- typed access ------------------------------------------------------------------ */

/* "got a string", or the number itself: "got 64.5". */
static void type_error(const JsonValue *v, const char *key, const char *want, Diag *d)
{
    const char *got = v->kind == JSON_NUMBER ? v->text : json_kind_name(v->kind);
    if (key)
        diag_error(d, v->loc, "'%s' must be %s, got %s", key, want, got);
    else
        diag_error(d, v->loc, "expected %s, got %s", want, got);
}

static bool as_int(const JsonValue *v, const char *key, int64_t *out, Diag *d)
{
    if (v->kind != JSON_NUMBER || !v->is_int) {
        type_error(v, key, "an integer", d);
        return false;
    }
    if (!v->int_fits) {
        diag_error(d, v->loc, "integer %s is out of range", v->text);
        return false;
    }
    *out = v->ival;
    return true;
}

static bool as_double(const JsonValue *v, const char *key, double *out, Diag *d)
{
    if (v->kind != JSON_NUMBER) {
        type_error(v, key, "a number", d);
        return false;
    }
    *out = v->num;
    return true;
}

static bool as_bool(const JsonValue *v, const char *key, bool *out, Diag *d)
{
    if (v->kind != JSON_BOOL) {
        type_error(v, key, "true or false", d);
        return false;
    }
    *out = v->boolean;
    return true;
}

static bool as_string(const JsonValue *v, const char *key, const char **out, Diag *d)
{
    if (v->kind != JSON_STRING) {
        type_error(v, key, "a string", d);
        return false;
    }
    /* A NUL would silently cut the C string every later stage sees. */
    if (strlen(v->str) != v->str_len) {
        diag_error(d, v->loc, "string contains a NUL character (\\u0000)");
        return false;
    }
    *out = v->str;
    return true;
}

static bool as_kind(const JsonValue *v, const char *key, JsonKind k, const JsonValue **out, Diag *d)
{
    if (v->kind != k) {
        type_error(v, key, json_kind_name(k), d);
        return false;
    }
    *out = v;
    return true;
}

bool json_as_int(const JsonValue *v, int64_t *out, Diag *d) { return as_int(v, NULL, out, d); }
bool json_as_double(const JsonValue *v, double *out, Diag *d) { return as_double(v, NULL, out, d); }
bool json_as_bool(const JsonValue *v, bool *out, Diag *d) { return as_bool(v, NULL, out, d); }
bool json_as_string(const JsonValue *v, const char **out, Diag *d) { return as_string(v, NULL, out, d); }

/* The member KEY of OBJ for a required getter, or NULL after reporting why
 * there is none. */
static const JsonValue *required(const JsonValue *obj, const char *key, Diag *d)
{
    if (obj->kind != JSON_OBJECT) {
        type_error(obj, NULL, "an object", d);
        return NULL;
    }
    const JsonValue *v = json_get(obj, key);
    if (v) return v;
    const char **keys = xmalloc(sizeof *keys * (size_t)(obj->len + 1));
    for (int i = 0; i < obj->len; i++) keys[i] = obj->members[i].key;
    const char *near = suggest_word(key, keys, obj->len);
    if (near)
        diag_error(d, obj->loc, "missing key '%s' (did you mean '%s'?)", key, near);
    else
        diag_error(d, obj->loc, "missing key '%s'", key);
    free(keys);
    return NULL;
}

/* The member KEY of OBJ for an optional getter: NULL when absent or null. */
static const JsonValue *optional(const JsonValue *obj, const char *key)
{
    const JsonValue *v = json_get(obj, key);
    return v && v->kind != JSON_NULL ? v : NULL;
}

bool json_get_int(const JsonValue *obj, const char *key, int64_t *out, Diag *d)
{
    const JsonValue *v = required(obj, key, d);
    return v && as_int(v, key, out, d);
}

bool json_get_double(const JsonValue *obj, const char *key, double *out, Diag *d)
{
    const JsonValue *v = required(obj, key, d);
    return v && as_double(v, key, out, d);
}

bool json_get_bool(const JsonValue *obj, const char *key, bool *out, Diag *d)
{
    const JsonValue *v = required(obj, key, d);
    return v && as_bool(v, key, out, d);
}

bool json_get_string(const JsonValue *obj, const char *key, const char **out, Diag *d)
{
    const JsonValue *v = required(obj, key, d);
    return v && as_string(v, key, out, d);
}

bool json_get_array(const JsonValue *obj, const char *key, const JsonValue **out, Diag *d)
{
    const JsonValue *v = required(obj, key, d);
    return v && as_kind(v, key, JSON_ARRAY, out, d);
}

bool json_get_object(const JsonValue *obj, const char *key, const JsonValue **out, Diag *d)
{
    const JsonValue *v = required(obj, key, d);
    return v && as_kind(v, key, JSON_OBJECT, out, d);
}

bool json_opt_int(const JsonValue *obj, const char *key, int64_t *out, Diag *d)
{
    const JsonValue *v = optional(obj, key);
    return !v || as_int(v, key, out, d);
}

bool json_opt_double(const JsonValue *obj, const char *key, double *out, Diag *d)
{
    const JsonValue *v = optional(obj, key);
    return !v || as_double(v, key, out, d);
}

bool json_opt_bool(const JsonValue *obj, const char *key, bool *out, Diag *d)
{
    const JsonValue *v = optional(obj, key);
    return !v || as_bool(v, key, out, d);
}

bool json_opt_string(const JsonValue *obj, const char *key, const char **out, Diag *d)
{
    const JsonValue *v = optional(obj, key);
    return !v || as_string(v, key, out, d);
}

/* ---- writing ------------------------------------------------------------------------ */

void json_write_string_n(StrBuf *sb, const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    sb_putc(sb, '"');
    for (size_t i = 0; i < n;) {
        unsigned char c = u[i];
        const char *esc = NULL;
        switch (c) {
        case '"': esc = "\\\""; break;
        case '\\': esc = "\\\\"; break;
        case '\n': esc = "\\n"; break;
        case '\t': esc = "\\t"; break;
        case '\r': esc = "\\r"; break;
        case '\b': esc = "\\b"; break;
        case '\f': esc = "\\f"; break;
        default: break;
        }
        if (esc) {
            sb_puts(sb, esc);
            i++;
        } else if (c < 0x20) {
            sb_printf(sb, "\\u%04x", c);
            i++;
        } else {
            size_t k = utf8_len(u + i, n - i);
            if (k) sb_putn(sb, s + i, k);
            else sb_puts(sb, "\xEF\xBF\xBD"); /* U+FFFD for one bad byte */
            i += k ? k : 1;
        }
    }
    sb_putc(sb, '"');
}

void json_write_string(StrBuf *sb, const char *s) { json_write_string_n(sb, s, strlen(s)); }

const char *json_escape(Arena *a, const char *s, size_t n)
{
    StrBuf sb = {0};
    json_write_string_n(&sb, s, n);
    const char *out = arena_strndup(a, sb.data + 1, sb.len - 2);
    sb_free(&sb);
    return out;
}

void json_write_double(StrBuf *sb, double x)
{
    if (isnan(x)) {
        sb_puts(sb, "NaN");
    } else if (isinf(x)) {
        sb_puts(sb, x < 0 ? "-Infinity" : "Infinity");
    } else {
        char buf[32];
        fmt_f64(buf, x);
        sb_puts(sb, buf);
    }
}

void json_write_value(StrBuf *sb, const JsonValue *v)
{
    switch (v->kind) {
    case JSON_NULL: sb_puts(sb, "null"); break;
    case JSON_BOOL: sb_puts(sb, v->boolean ? "true" : "false"); break;
    case JSON_NUMBER: sb_puts(sb, v->text); break;
    case JSON_STRING: json_write_string_n(sb, v->str, v->str_len); break;
    case JSON_ARRAY:
        sb_putc(sb, '[');
        for (int i = 0; i < v->len; i++) {
            if (i) sb_putc(sb, ',');
            json_write_value(sb, v->items[i]);
        }
        sb_putc(sb, ']');
        break;
    case JSON_OBJECT:
        sb_putc(sb, '{');
        for (int i = 0; i < v->len; i++) {
            if (i) sb_putc(sb, ',');
            json_write_string_n(sb, v->members[i].key, v->members[i].key_len);
            sb_putc(sb, ':');
            json_write_value(sb, v->members[i].value);
        }
        sb_putc(sb, '}');
        break;
    }
}
