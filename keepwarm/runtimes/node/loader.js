'use strict';
/**
 * Handler resolution as aws-lambda-ric does it (contract §2.6, §3.3): "dir/module.a.b" means
 * module `module` under `dir` (relative to the task root) and the property path `a.b` in it.
 * Extensionless and `.js` files load with require, unless the nearest package.json says
 * "type": "module"; then `.js`, `.mjs` are imported as ES modules and `.cjs` required; last,
 * Node's own resolution from the task root (node_modules).
 */

const fs = require('fs');
const path = require('path');
const { pathToFileURL } = require('url');
const {
  HandlerNotFound,
  ImportModuleError,
  MalformedHandlerName,
  UserCodeSyntaxError,
} = require('./errors.js');

const FUNCTION_EXPR = /^([^.]*)\.(.*)$/;

function moduleRootAndHandler(full) {
  const handler = path.basename(full);
  return [full.substring(0, full.indexOf(handler)), handler];
}

function splitHandler(handler) {
  const match = handler.match(FUNCTION_EXPR);
  if (!match || match.length !== 3) throw new MalformedHandlerName('Bad handler');
  return [match[1], match[2]];
}

function resolveProperty(object, dotted) {
  return dotted.split('.').reduce((nested, key) => nested && nested[key], object);
}

function tryRequire(file) {
  return fs.existsSync(file) ? require(file) : undefined;
}

async function tryImport(file) {
  return fs.existsSync(file) ? await import(pathToFileURL(file).href) : undefined;
}

function folderIsModule(folder) {
  if (folder.endsWith('/node_modules')) return false;
  const pj = path.join(folder, 'package.json');
  if (fs.existsSync(pj)) {
    try {
      const pkg = JSON.parse(fs.readFileSync(pj));
      if (pkg) return pkg.type === 'module';
    } catch (e) {
      console.warn(`${pj} cannot be read, it will be ignored for ES module detection purposes.`, e);
      return false;
    }
  }
  if (folder === '/') return false;
  return folderIsModule(path.resolve(folder, '..'));
}

async function loadModule(appRoot, moduleRoot, module) {
  const base = path.resolve(appRoot, moduleRoot, module);
  const extensionless = tryRequire(base);
  if (extensionless) return extensionless;
  const esm = folderIsModule(path.dirname(base));
  if (!esm) {
    const loaded = tryRequire(base + '.js');
    if (loaded) return loaded;
  }
  const loaded =
    (esm && (await tryImport(base + '.js'))) ||
    (await tryImport(base + '.mjs')) ||
    tryRequire(base + '.cjs');
  if (loaded) return loaded;
  return require(require.resolve(module, { paths: [appRoot, moduleRoot] }));
}

async function loadUserApp(appRoot, moduleRoot, module) {
  try {
    return await loadModule(appRoot, moduleRoot, module);
  } catch (e) {
    if (e instanceof SyntaxError) throw new UserCodeSyntaxError(e);
    if (e && e.code === 'MODULE_NOT_FOUND') throw new ImportModuleError(e);
    throw e;
  }
}

async function load(appRoot, fullHandler) {
  if (fullHandler.includes('..')) {
    throw new MalformedHandlerName(
      `'${fullHandler}' is not a valid handler name. Use absolute paths when specifying root directories in handler names.`,
    );
  }
  const [moduleRoot, moduleAndHandler] = moduleRootAndHandler(fullHandler);
  const [module, handlerPath] = splitHandler(moduleAndHandler);
  const app = await loadUserApp(appRoot, moduleRoot, module);
  const handler = resolveProperty(app, handlerPath);
  if (!handler) throw new HandlerNotFound(`${fullHandler} is undefined or not exported`);
  if (typeof handler !== 'function') throw new HandlerNotFound(`${fullHandler} is not a function`);
  return handler;
}

function isAsync(handler) {
  try {
    return handler?.constructor?.name === 'AsyncFunction';
  } catch (_err) {
    return false;
  }
}

module.exports = { load, isAsync };
