// Just enough of the dotenv format for .dev.vars: NAME=value lines, # comments, optional
// single or double quotes, `export ` prefixes. Values this project writes are plain tokens.

export function parseDotenv(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const m = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(line);
    if (!m) continue;
    let value = (m[2] as string).trim();
    const q = value[0];
    if ((q === '"' || q === "'") && value.length >= 2 && value.endsWith(q)) {
      value = value.slice(1, -1);
      if (q === '"') value = value.replace(/\\n/g, "\n");
    } else {
      value = value.replace(/\s+#.*$/, "");
    }
    out[m[1] as string] = value;
  }
  return out;
}

/** `text` with each NAME=… line of `values` replaced (or appended when absent); other lines kept. */
export function updateDotenv(text: string, values: Record<string, string>, comment?: string): string {
  const lines = text === "" ? [] : text.replace(/\r?\n$/, "").split(/\r?\n/);
  const pending = new Map(Object.entries(values));
  const out = lines.map((line) => {
    const m = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=/.exec(line);
    const name = m?.[1];
    if (name === undefined || !pending.has(name)) return line;
    const v = pending.get(name) as string;
    pending.delete(name);
    return `${name}=${v}`;
  });
  if (pending.size > 0) {
    if (comment !== undefined) out.push(`# ${comment}`);
    for (const [k, v] of pending) out.push(`${k}=${v}`);
  }
  return out.join("\n") + "\n";
}
