// Live differential oracle for the tokenizer: @huggingface/tokenizers (pure
// JavaScript, pinned in package-lock.json) on seeded random strings.
//
// Usage: node tokenizer_oracle.mjs ASSETS OUTDIR [COUNT]
//        node tokenizer_oracle.mjs --check-goldens ASSETS FIXTURES
//
// Writes OUTDIR/tokenizer_oracle_NAME.jsonl for NAME in qwen3, gemma3, llama3
// (tokenizer.json + tokenizer_config.json from ASSETS/tokenizer-NAME/models):
// a first line {"meta": {...}}, then one record per string:
//   text         the string (never a lone surrogate, so it is valid UTF-8)
//   ids          encode(text, add_special_tokens=false)   (special-token text parsed:
//                the JavaScript library always parses it)
//   ids_special  encode(text, add_special_tokens=true)
//   decoded      decode(ids_special, skip_special_tokens=false,
//                       clean_up_tokenization_spaces=false)
//   has_special  whether text contains the text of a special added token (when false,
//                parse_special does not matter and ingot is checked both ways)
// --check-goldens compares the library with the committed Hugging Face goldens
// (tests/fixtures/tokenizer/encode_NAME.jsonl) and prints the disagreements:
// the measure of how far this oracle can be trusted.
import fs from "node:fs";
import path from "node:path";

const NAMES = ["qwen3", "gemma3", "llama3"];
const SEED = 0x1a2b3c4d;

function loadTokenizer(assets, name) {
    const dir = path.join(assets, `tokenizer-${name}`, "models");
    const read = (f) => JSON.parse(fs.readFileSync(path.join(dir, f), "utf8"));
    return new Tokenizer(read("tokenizer.json"), read("tokenizer_config.json"));
}

// mulberry32: a small seeded generator, identical on every platform.
function rng(seed) {
    let a = seed >>> 0;
    return () => {
        a = (a + 0x6d2b79f5) >>> 0;
        let t = a;
        t = Math.imul(t ^ (t >>> 15), t | 1);
        t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
        return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
}

const BLOCKS = [
    [0x20, 0x7e], [0x00, 0x1f], [0x7f, 0x9f], [0xa0, 0x24f], [0x250, 0x2ff], [0x300, 0x36f],
    [0x370, 0x3ff], [0x400, 0x52f], [0x530, 0x58f], [0x590, 0x5ff], [0x600, 0x6ff],
    [0x700, 0x74f], [0x900, 0x97f], [0x980, 0x9ff], [0xb80, 0xbff], [0xe00, 0xe7f],
    [0x10a0, 0x10ff], [0x1100, 0x11ff], [0x1e00, 0x1eff], [0x2000, 0x206f], [0x20a0, 0x20cf],
    [0x2100, 0x214f], [0x2190, 0x21ff], [0x2200, 0x22ff], [0x2500, 0x257f], [0x2600, 0x27bf],
    [0x3000, 0x303f], [0x3040, 0x30ff], [0x3100, 0x312f], [0x4e00, 0x9fff], [0xa000, 0xa48f],
    [0xac00, 0xd7a3], [0xe000, 0xf8ff], [0xf900, 0xfaff], [0xfb00, 0xfb4f], [0xfe00, 0xfe0f],
    [0xfe30, 0xfe4f], [0xff00, 0xffef], [0xfff0, 0xfffd], [0x10000, 0x1007f], [0x10300, 0x1034f],
    [0x1d400, 0x1d7ff], [0x1f000, 0x1f0ff], [0x1f300, 0x1faff], [0x20000, 0x2a6df],
    [0x30000, 0x3134f], [0xe0000, 0xe007f], [0xf0000, 0xf00ff], [0x10fff0, 0x10fffd],
];

const WORDS = [
    "the", "The", " the", "quick", "brown", "fox", "Hello", "world", "tokenizer", "don't", "I'M",
    "it's", "'s", "'ll", "'VE", "we're", "café", "naïve", "Größe", "straße", "İstanbul", "Привет",
    "мир", "Γειά", "σου", "مرحبا", "שלום", "नमस्ते", "สวัสดี", "你好", "世界", "こんにちは",
    "カタカナ", "안녕하세요", "😀", "👍🏽", "👩‍💻", "👨‍👩‍👧‍👦", "🇫🇷", "🏳️‍🌈", "e\u0301", "a\u0308",
    "\u1100\u1161", "ﬁ", "①", "½", "12345", "3.14", "0x1F", "1e-9", "def", "return", "{", "}",
    "(", ")", "[", "]", ";", "==", "=>", "//", "/*", "*/", "#include", "<div>", "</div>", "&amp;",
    "https://", "www.", ".com", "@", "#", "$", "%", "^", "&", "*", "_", "-", "+", "=", "|", "\\",
    "\"", "'", "`", "~", "?", "!", ",", ".", ":", "...", "—", "«", "»", "“", "”", "\u00a0",
    "\u200b", "\u200d", "\ufeff", "\u00ad",
];

const SPACES = [" ", "  ", "   ", "\t", "\n", "\n\n", "\n\n\n", "\r\n", "\r", " \n", "\u00a0",
                "\u3000", "\u2009", "\u2028", "\u0085", "\u000b", "\u000c"];

const PIECES = ["<|im_start|>", "<|im_end|>", "<|endoftext|>", "<think>", "</think>",
                "<tool_call>", "<start_of_turn>", "<end_of_turn>", "<bos>", "<eos>", "<pad>",
                "<|begin_of_text|>", "<|eot_id|>", "<|start_header_id|>", "<|end_header_id|>",
                "<|im_sta", "rt|>", "<|", "|>", "<start_of", "_turn>", "<|eot", "<unused12>",
                "<|reserved_special_token_3|>", "<mask>", "[multimodal]", "<start_of_image>"];

function makeStrings(count, seed, specials) {
    const r = rng(seed);
    const pick = (a) => a[Math.floor(r() * a.length)];
    const int = (lo, hi) => lo + Math.floor(r() * (hi - lo + 1));
    const codepoint = () => {
        const [lo, hi] = pick(BLOCKS);
        let c = int(lo, hi);
        if (c >= 0xd800 && c <= 0xdfff) c = 0xfffd;
        return String.fromCodePoint(c);
    };
    const ascii = () => String.fromCharCode(r() < 0.9 ? int(0x20, 0x7e) : pick([9, 10, 13, 0, 27]));
    const pieces = PIECES.concat(specials.slice(0, 60));
    const unit = [
        () => codepoint(),
        () => Array.from({ length: int(1, 12) }, ascii).join(""),
        () => pick(WORDS),
        () => pick(WORDS) + " ",
        () => " " + pick(WORDS),
        () => pick(SPACES).repeat(int(1, 4)),
        () => pick(pieces),
        () => String(int(0, 1e9)),
    ];
    const out = [];
    for (let i = 0; i < count; i++) {
        const mode = r();
        let s = "";
        if (mode < 0.15) {
            // pure random code points
            for (let n = int(1, 30); n > 0; n--) s += codepoint();
        } else if (mode < 0.25) {
            for (let n = int(1, 60); n > 0; n--) s += ascii();
        } else if (mode < 0.3) {
            // a long run (no spaces) of one or a few characters
            const c = r() < 0.5 ? pick(WORDS) : codepoint();
            s = c.repeat(int(20, 400));
        } else if (mode < 0.34) {
            // a paragraph: many units, up to a few thousand characters
            for (let n = int(20, 150); n > 0; n--) s += pick(unit)();
        } else {
            for (let n = int(1, 16); n > 0; n--) s += pick(unit)();
        }
        out.push(s);
    }
    return out;
}

function specialsOf(tok) {
    const out = [];
    for (const [, t] of tok.get_added_tokens_decoder()) if (t.special) out.push(t.content);
    return out;
}

function decode(tok, ids) {
    if (ids.length === 0) return "";
    return tok.decode(ids, { skip_special_tokens: false, clean_up_tokenization_spaces: false });
}

function generate(assets, outdir, count) {
    fs.mkdirSync(outdir, { recursive: true });
    for (const name of NAMES) {
        const t0 = Date.now();
        const tok = loadTokenizer(assets, name);
        const specials = specialsOf(tok);
        const specialSet = specials.filter((s) => s.length > 0);
        const strings = makeStrings(count, SEED ^ name.length * 7919 ^ name.charCodeAt(0), specials);
        const lines = [JSON.stringify({ meta: {
            oracle: "@huggingface/tokenizers", version: "0.2.0", tokenizer: name, count, seed: SEED,
            generator: "tests/oracle/tokenizer_oracle.mjs" } })];
        for (const text of strings) {
            const ids = tok.encode(text, { add_special_tokens: false }).ids;
            const idsSpecial = tok.encode(text, { add_special_tokens: true }).ids;
            const hasSpecial = specialSet.some((s) => text.includes(s));
            lines.push(JSON.stringify({ text, ids, ids_special: idsSpecial,
                                        decoded: decode(tok, idsSpecial), has_special: hasSpecial }));
        }
        const file = path.join(outdir, `tokenizer_oracle_${name}.jsonl`);
        fs.writeFileSync(file, lines.join("\n") + "\n");
        console.log(`tokenizer_oracle: ${name}: ${count} strings in ${Date.now() - t0} ms -> ${file}`);
    }
}

function checkGoldens(assets, fixtures) {
    const same = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);
    for (const name of NAMES) {
        const tok = loadTokenizer(assets, name);
        const lines = fs.readFileSync(path.join(fixtures, `encode_${name}.jsonl`), "utf8")
            .split("\n").filter((l) => l.length > 0).map((l) => JSON.parse(l));
        const meta = lines.shift().meta;
        let bad = 0;
        for (const g of lines) {
            const idsSp = g.ids_sp ?? g.ids;
            const want = g.ids_sp_add ?? meta.add_prefix.concat(idsSp, meta.add_suffix);
            const got = tok.encode(g.text, { add_special_tokens: false }).ids;
            const gotAdd = tok.encode(g.text, { add_special_tokens: true }).ids;
            const dec = g.dec ?? g.dec_skip ?? g.text;
            if (!same(got, idsSp) || !same(gotAdd, want) || decode(tok, want) !== dec) {
                if (bad++ < 5) console.log(name, JSON.stringify(g.text.slice(0, 80)),
                                           JSON.stringify(idsSp.slice(0, 20)),
                                           JSON.stringify(got.slice(0, 20)));
            }
        }
        console.log(`${name}: ${lines.length - bad}/${lines.length} goldens agree with the JS oracle`);
    }
}

const args = process.argv.slice(2);
const assets = args[0] === "--check-goldens" ? args[1] : args[0];
if (assets && !fs.existsSync(path.join(assets, "tokenizer-qwen3", "models", "tokenizer.json"))) {
    // no assets: nothing to compare, the C test skips (run scripts/setup.sh)
    console.log(`tokenizer_oracle: no tokenizer assets under ${assets}; nothing generated`);
    process.exit(0);
}
// imported here so that a missing install is reported after the assets check
const { Tokenizer } = await import("@huggingface/tokenizers");
if (args[0] === "--check-goldens" && args.length === 3) {
    checkGoldens(args[1], args[2]);
} else if (args.length === 2 || args.length === 3) {
    generate(args[0], args[1], args.length === 3 ? Number(args[2]) : 10000);
} else {
    console.error("usage: node tokenizer_oracle.mjs ASSETS OUTDIR [COUNT] | --check-goldens ASSETS FIXTURES");
    process.exit(2);
}
