// Second chat-template oracle: @huggingface/jinja (the JavaScript Jinja of
// transformers.js, pinned in package-lock.json) on the cases of
// template_oracle.py.
//
// Usage: node template_oracle.mjs ASSETS IN.jsonl OUT.jsonl
//
// IN is template_oracle.py's output. For each record, renders the same
// template (the tokenizer's chat_template, or the record's "source") with the
// same variables and writes {"id": N, "text": ...} or {"id": N, "error": ...}.
// The library sets trim_blocks and lstrip_blocks itself and provides
// raise_exception and strftime_now as globals.
import fs from "node:fs";
import path from "node:path";

function render(source, vars) {
    try {
        return { text: new Template(source).render(vars) };
    } catch (e) {
        return { error: String(e && e.message ? e.message : e) };
    }
}

const [assets, input, output] = process.argv.slice(2);
if (!output) {
    console.error("usage: node template_oracle.mjs ASSETS IN.jsonl OUT.jsonl");
    process.exit(2);
}
if (!fs.existsSync(input)) {
    console.error(`template_oracle.mjs: ${input} missing (template_oracle.py did not run)`);
    process.exit(1);
}
const { Template } = await import("@huggingface/jinja");
const templates = new Map();
const templateOf = (name) => {
    if (!templates.has(name)) {
        const file = path.join(assets, `tokenizer-${name}`, "models", "tokenizer_config.json");
        templates.set(name, JSON.parse(fs.readFileSync(file, "utf8")).chat_template);
    }
    return templates.get(name);
};
const lines = [];
let count = 0;
for (const line of fs.readFileSync(input, "utf8").split("\n")) {
    if (line.length === 0) continue;
    const rec = JSON.parse(line);
    const source = rec.tokenizer ? templateOf(rec.tokenizer) : rec.source;
    lines.push(JSON.stringify({ id: rec.id, ...render(source, rec.vars) }));
    count++;
}
fs.writeFileSync(output, lines.join("\n") + "\n");
console.log(`template_oracle.mjs: ${count} records -> ${output}`);
