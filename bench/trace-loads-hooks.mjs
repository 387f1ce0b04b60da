import { appendFileSync } from 'node:fs';

let file;
export function initialize(data) {
  file = data;
}

export async function resolve(specifier, context, next) {
  const result = await next(specifier, context);
  const match = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(result.url);
  if (file && match) appendFileSync(file, `${match[1]}\n`);
  return result;
}
