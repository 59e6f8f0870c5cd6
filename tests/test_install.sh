#!/bin/sh
# The installed ingot, as a user gets it: `cmake --install BUILD --prefix P`
# into a temporary prefix, then
#   1. the layout: libingot.so with its soname, libingot.a, the headers,
#      ingot.pc, the CLI and (when built) the CUDA plugin in LIBDIR/ingot; no
#      installed run path points into the build tree;
#   2. the examples/ programs built with the compiler CMake uses against
#      `pkg-config --cflags --libs ingot` (PKG_CONFIG_PATH=P/LIBDIR/pkgconfig),
#      shared and, with `pkg-config --static`, against libingot.a;
#   3. both builds run on a tiny random-weight model (made by the installed
#      CLI with the Qwen3 tokenizer asset) and agree with the installed CLI:
#      generate's text and greedy ids with `ingot generate --raw [--ids]`,
#      classify's log-probabilities and probabilities with `ingot classify
#      --labels` (the probabilities: the softmax of the CLI's scores).
# Nothing is written outside the temporary folder and the build tree (where
# cmake --install writes install_manifest.txt). Exits 77 (skipped) when
# pkg-config, readelf or the tokenizer asset is missing.
#
# usage: test_install.sh BUILD SOURCE CC BINDIR LIBDIR INCLUDEDIR HAVE_CUDA VERSION
set -eu
build=$1 src=$2 cc=$3 bindir=$4 libdir=$5 incdir=$6 have_cuda=$7 version=$8

fail() {
    echo "test_install: $*" >&2
    exit 1
}
skip() {
    echo "test_install: $*: skipped"
    exit 77
}
for tool in pkg-config readelf; do
    command -v "$tool" >/dev/null || skip "no $tool"
done
tokenizer=${INGOT_ASSETS:-$src/.cache/assets}/tokenizer-qwen3/models
[ -f "$tokenizer/tokenizer.json" ] || skip "no Qwen3 tokenizer at $tokenizer"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/ingot_install_XXXXXX")
trap 'rm -rf "$tmp"' EXIT
p=$tmp/prefix
cmake --install "$build" --prefix "$p" >"$tmp/install.log" 2>&1 ||
    { cat "$tmp/install.log"; fail "cmake --install failed"; }

# ---- 1. layout ----
for f in "$bindir/ingot" "$libdir/libingot.so" "$libdir/libingot.so.0" \
    "$libdir/libingot.so.$version" "$libdir/libingot.a" "$libdir/pkgconfig/ingot.pc" \
    "$incdir/ingot/ingot.h" "$incdir/ingot/hub.h" "$incdir/ingot/engine.h"; do
    [ -e "$p/$f" ] || fail "$f is not installed"
done
plugin=$p/$libdir/ingot/libingot_cuda.so
if [ "$have_cuda" = ON ]; then
    [ -e "$plugin" ] || fail "the CUDA plugin is built but not installed in $libdir/ingot"
fi
readelf -d "$p/$libdir/libingot.so" | grep -q 'SONAME.*\[libingot\.so\.0\]' ||
    fail "libingot.so has no soname libingot.so.0"
for f in "$p/$libdir/libingot.so.$version" "$p/$bindir/ingot" "$plugin"; do
    [ -e "$f" ] || continue
    if readelf -d "$f" | grep -E 'R(UN)?PATH' | grep -qF "$build"; then
        fail "$f has a run path into the build tree: $(readelf -d "$f" | grep -E 'R(UN)?PATH')"
    fi
done

# ---- 2. the examples against ingot.pc ----
export PKG_CONFIG_PATH="$p/$libdir/pkgconfig"
[ "$(pkg-config --modversion ingot)" = "$version" ] || fail "ingot.pc: version is not $version"
cflags=$(pkg-config --cflags ingot)
libs=$(pkg-config --libs ingot)
static_libs=$(pkg-config --static --libs ingot)
case " $libs " in *" -lingot "*) ;; *) fail "pkg-config --libs ingot lacks -lingot: $libs" ;; esac
case " $libs " in *" -ljansson "*) fail "pkg-config --libs ingot lists private libraries: $libs" ;; esac
for want in -ljansson -lpcre2-8 -lutf8proc -lpthread -lm -ldl; do
    case " $static_libs " in *" $want "*) ;; *) fail "pkg-config --static --libs ingot lacks $want" ;; esac
done
# -l:libingot.a: the static library, though libingot.so lies beside it
static_link=
for word in $static_libs; do
    [ "$word" = -lingot ] && word=-l:libingot.a
    static_link="$static_link $word"
done
for ex in generate classify; do
    # word splitting of the pkg-config output is intended
    # shellcheck disable=SC2086
    "$cc" -std=c11 -Wall -Wextra -Werror "$src/examples/$ex.c" -o "$tmp/$ex" \
        $cflags $libs "-Wl,-rpath,$p/$libdir" || fail "$ex.c does not build against ingot.pc"
    # shellcheck disable=SC2086
    "$cc" -std=c11 -Wall -Wextra -Werror "$src/examples/$ex.c" -o "$tmp/$ex-static" \
        $cflags $static_link ||
        fail "$ex.c does not build against ingot.pc --static"
    readelf -d "$tmp/$ex" | grep -q 'NEEDED.*\[libingot\.so\.0\]' ||
        fail "$ex is not linked with libingot.so.0"
    if readelf -d "$tmp/$ex-static" | grep -q 'NEEDED.*libingot'; then
        fail "$ex-static needs libingot.so"
    fi
done

# ---- 3. the examples on a tiny model, next to the installed CLI ----
ingot=$p/$bindir/ingot
model=$tmp/model
"$ingot" random-model --shape tiny --seed 7 --tokenizer "$tokenizer" "$model" >/dev/null ||
    fail "the installed ingot random-model failed"
prompt="The capital of France is"
"$ingot" generate --model "$model" --prompt "$prompt" --raw -n 8 -q >"$tmp/cli.txt" ||
    fail "the installed ingot generate failed"
"$ingot" generate --model "$model" --prompt "$prompt" --raw --ids -n 8 -q >"$tmp/cli.ids" ||
    fail "the installed ingot generate --ids failed"
want_ids=$(tr -d '[],' <"$tmp/cli.ids")
[ -n "$want_ids" ] || fail "ingot generate --ids printed no ids"
for build_kind in "" -static; do
    exe=$tmp/generate$build_kind
    "$exe" "$model" "$prompt" 8 >"$tmp/gen.txt" 2>"$tmp/gen.err" ||
        { cat "$tmp/gen.err"; fail "generate$build_kind failed"; }
    cmp -s "$tmp/gen.txt" "$tmp/cli.txt" || fail "generate$build_kind streamed other text than ingot generate"
    ids=$(sed -n 's/^ids: //p' "$tmp/gen.err")
    [ "$ids" = "$want_ids" ] || fail "generate$build_kind ids '$ids', ingot generate --ids '$want_ids'"
done

printf 'The sky is\n' >"$tmp/prompts.txt"
"$ingot" classify --model "$model" --prompts "$tmp/prompts.txt" --labels ' blue, green, red' \
    >"$tmp/cli.json" || fail "the installed ingot classify failed"
for build_kind in "" -static; do
    "$tmp/classify$build_kind" "$model" "The sky is" " blue" " green" " red" >"$tmp/cls.txt" ||
        fail "classify$build_kind failed"
    # The CLI's {"prompt": ..., "scores": {"LABEL": LOGP, ...}, "label": ...}
    # against the example's LABEL <tab> LOGP <tab> PROB lines.
    awk -F '\t' '
        FNR == NR {
            line = $0
            while (match(line, /"[^"]*": -?[0-9][-+.0-9e]*/)) {
                pair = substr(line, RSTART + 1, RLENGTH - 1)
                line = substr(line, RSTART + RLENGTH)
                sep = index(pair, "\": ")
                label = substr(pair, 1, sep - 1)
                score[label] = substr(pair, sep + 3) + 0
                if (n == 0 || score[label] > top) top = score[label]
                n++
            }
            if (match(line, /"label": "[^"]*"/)) best = substr(line, RSTART + 10, RLENGTH - 11)
            next
        }
        /^best: / { got_best = substr($0, 7); next }
        {
            if (!($1 in score)) { print "label \"" $1 "\" not in the CLI output"; bad = 1; next }
            d = $2 - score[$1]
            if (d < 0) d = -d
            if (d > 1e-6 * (score[$1] < -1 ? -score[$1] : 1)) {
                print "label \"" $1 "\": log-probability " $2 ", CLI " score[$1]; bad = 1
            }
            sum = 0
            for (l in score) sum += exp(score[l] - top)
            p = exp(score[$1] - top) / sum
            d = $3 - p
            if (d < 0) d = -d
            if (d > 1e-5) { print "label \"" $1 "\": probability " $3 ", softmax of the CLI " p; bad = 1 }
            seen++
        }
        END {
            if (n != 3 || seen != 3) { print "labels: " n " from the CLI, " seen " from the example"; bad = 1 }
            if (got_best != best) { print "best \"" got_best "\", CLI \"" best "\""; bad = 1 }
            exit bad
        }' "$tmp/cli.json" "$tmp/cls.txt" || fail "classify$build_kind disagrees with ingot classify"
done

# ---- the installed CUDA plugin is the one the installed CLI and libingot.so load ----
if [ "$have_cuda" = ON ]; then
    want=$(readlink -f "$plugin")
    for exe in "$ingot devices" "$tmp/generate $model x 1"; do
        # the loader's "calling init: PATH" names each object it loaded
        # shellcheck disable=SC2086
        LD_DEBUG=files $exe >/dev/null 2>"$tmp/ld.log" || fail "$exe failed"
        loaded=$(sed -n 's/.*calling init: \(.*libingot_cuda\.so\)$/\1/p' "$tmp/ld.log")
        [ -n "$loaded" ] && [ "$(readlink -f "$loaded")" = "$want" ] ||
            fail "$exe loaded '$loaded', not $plugin"
    done
    if "$ingot" devices | grep -q 'CUDA plugin not loaded'; then
        fail "the installed ingot cannot load $plugin: $("$ingot" devices)"
    fi
fi
echo "test_install: $p passed (plugin: $have_cuda)"
