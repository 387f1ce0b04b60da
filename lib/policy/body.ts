/**
 * Request bodies in keys, for methods cached on purpose (POST queries):
 * JSON with its object keys sorted, forms with their fields sorted, ignored
 * parameters left out of both; other bodies as they are.
 */

export function normalizeBody(body: Uint8Array, contentType: string | undefined, ignored: ReadonlySet<string>): Uint8Array {
  const type = contentType?.toLowerCase() ?? '';
  if (type.includes('json')) {
    let value: unknown;
    try {
      value = JSON.parse(Buffer.from(body).toString('utf8'));
    } catch {
      return body;
    }
    if (isObject(value)) for (const name of ignored) delete value[name];
    return Buffer.from(stableStringify(value), 'utf8');
  }
  if (type.includes('application/x-www-form-urlencoded')) {
    const fields = [...new URLSearchParams(Buffer.from(body).toString('utf8'))].filter(([name]) => !ignored.has(name));
    fields.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    return Buffer.from(new URLSearchParams(fields).toString(), 'utf8');
  }
  return body;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function stableStringify(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableStringify).join(',')}]`;
  if (isObject(value)) {
    const keys = Object.keys(value)
      .filter((key) => value[key] !== undefined)
      .sort();
    return `{${keys.map((key) => `${JSON.stringify(key)}:${stableStringify(value[key])}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}
