export async function resolve(specifier, context, next) {
  if (specifier === 'undici' || specifier.startsWith('undici/')) {
    return next(`undici-v8${specifier.slice('undici'.length)}`, context);
  }
  return next(specifier, context);
}
