/* model.c — load a model for any command: the whole front of the pipeline,
 * from a path to a verified Graph IR module.
 *
 *   X.ir                      ir_parse (verifies)
 *   X.hyb                     parse → sema → lower
 *   DIR or DIR/config.json    import (Hugging Face) → .hyb text → parse → sema → lower
 */
#include "driver.h"
#include "../frontend/frontend.h"
#include "../ir/ir.h"

#include <string.h>
#include <sys/stat.h>

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

static bool is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* The directory holding a Hugging Face model: PATH itself, or config.json's. */
static const char *hf_dir(Arena *a, const char *path)
{
    if (is_dir(path)) return path;
    const char *slash = strrchr(path, '/');
    return slash ? arena_strndup(a, path, (size_t)(slash - path) + (slash == path)) : ".";
}

/* The .hyb text of an imported model, as a source named DIR/config.json.hyb:
 * diagnostics and IR locations point into that text, and its weights path
 * (written relative to DIR) resolves against DIR like a .hyb file's. */
static const SrcFile *import_source(const char *path, Arena *arena, Diag *diag, LoadedModel *out)
{
    const char *dir = hf_dir(arena, path);
    ImportHfOptions opt = {NULL, dir};
    ImportHfModel *hf = import_hf_read(path, &opt, arena, diag);
    if (!hf) return NULL;
    out->hf = hf;
    StrBuf text = {0};
    import_hf_print(hf, &text);
    const char *name = strcmp(dir, ".") == 0 ? "config.json.hyb" : arena_printf(arena, "%s/config.json.hyb", dir);
    SrcFile *src = src_from_string(name, sb_cstr(&text), arena);
    sb_free(&text);
    return src;
}

static bool model_format(const char *path, ModelFormat *out)
{
    if (ends_with(path, ".ir")) return *out = MODEL_IR, true;
    if (ends_with(path, ".hyb")) return *out = MODEL_HYB, true;
    if (ends_with(path, ".json") || is_dir(path)) return *out = MODEL_HF, true;
    return false;
}

bool model_load(const char *path, Arena *arena, Interner *in, Diag *diag, LoadedModel *out)
{
    memset(out, 0, sizeof *out);
    if (!model_format(path, &out->format)) {
        SrcFile *f = ARENA_NEW(arena, SrcFile);
        f->name = arena_strdup(arena, path);
        diag_error(diag, loc_file(f),
                   "not a model hyc reads: expected a .hyb or .ir file, or a Hugging Face directory or config.json");
        return false;
    }
    const SrcFile *src = out->format == MODEL_HF ? import_source(path, arena, diag, out) : src_load(path, arena, diag);
    out->src = src;
    if (!src) return false;
    if (out->format == MODEL_IR) {
        out->module = ir_parse(src, arena, in, diag);
        return out->module != NULL;
    }
    AstFile *ast = parse_source(src, arena, in, diag);
    ModelSpec *spec = ast ? sema_check(ast, arena, in, diag) : NULL;
    IrModule *mod = spec ? lower_model(spec, arena, in, diag) : NULL;
    out->spec = spec;
    out->module = mod;
    if (mod && !ir_verify(mod, diag)) HYC_DIE("the IR lowered from %s does not verify", src->name);
    return mod != NULL;
}
