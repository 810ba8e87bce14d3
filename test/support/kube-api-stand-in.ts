// biome-ignore-all lint/suspicious/noAssignInExpressions: the selector and JSONPath readers are chains of `if ((m = re.exec(…)))`.
/**
 * A local server that speaks the Kubernetes API's REST protocol well enough
 * that the official `@kubernetes/client-node` (1.4) and `kubectl` (1.32) both
 * use it as their API server, so the operator (operator/) can be tested
 * without a cluster. Everything lives in memory; objects are stored as plain
 * JSON ("unstructured"), with no defaulting or validation of built-in kinds
 * beyond their metadata.
 *
 * Covered, because client-node, kubectl or an operator depend on it:
 *
 * - Transport: one port speaks plain HTTP (`url`, for raw requests) and TLS
 *   with a throwaway self-signed certificate (the kubeconfig's
 *   `https://127.0.0.1:<port>`, `insecure-skip-tls-verify`), told apart by the
 *   first byte. TLS because kubectl (client-go) never sends a bearer token
 *   to an http:// server (kubernetes/kubectl#744). JSON and YAML bodies only:
 *   a protobuf body is a 415, so kubectl's imperative generators
 *   (`kubectl create namespace|configmap|secret ...`, which send protobuf)
 *   fail; `kubectl create -f`, `apply`, `patch`, `label`, `get`, `wait`,
 *   `delete` all send JSON and work. Responses are always JSON (kubectl
 *   accepts that even where it prefers protobuf).
 * - Discovery: /version, /api, /api/v1, /apis, /apis/{group},
 *   /apis/{group}/{version} (APIResourceList with singularName, namespaced,
 *   kind, verbs, shortNames, categories and `<plural>/status`). Aggregated
 *   discovery is not implemented: when kubectl asks for
 *   `as=APIGroupDiscoveryList` it gets the legacy APIGroupList as plain
 *   `application/json` and falls back to per-group-version discovery, as it
 *   does against old servers.
 * - OpenAPI: /openapi/v2 is 404. /openapi/v3 serves a minimal document per
 *   group-version: one PATCH operation per kind carrying
 *   `x-kubernetes-group-version-kind`, the `fieldValidation` query parameter
 *   and the accepted patch content types, and no schemas. That is exactly what
 *   kubectl looks for to decide that the server validates fields itself
 *   (so `--validate=false` is not needed), and with no schemas kubectl's
 *   client-side `apply` computes patches from its compiled-in types (strategic
 *   merge for built-ins) or as JSON merge patches (custom resources).
 *   `kubectl explain` does not work.
 * - Built-in kinds (core v1 namespaces, serviceaccounts, services,
 *   resourcequotas, limitranges, configmaps, secrets, persistentvolumeclaims,
 *   events; apps/v1 deployments, statefulsets; autoscaling/v2
 *   horizontalpodautoscalers; networking.k8s.io/v1 networkpolicies;
 *   rbac.authorization.k8s.io/v1 roles, rolebindings, clusterroles,
 *   clusterrolebindings; coordination.k8s.io/v1 leases;
 *   apiextensions.k8s.io/v1 customresourcedefinitions). Namespaces, services,
 *   resourcequotas, PVCs, deployments, statefulsets, HPAs and CRDs have a
 *   `/status` subresource: writes to the main resource keep `.status`, writes
 *   to `/status` change only `.status` (and creation drops `.status`). No
 *   controllers run for them (a Deployment never gets available replicas
 *   unless a test writes its status). Namespaces `default` and `kube-system`
 *   exist from the start. No pods, no scale subresource, no namespace
 *   `/finalize`.
 * - CustomResourceDefinitions register their group/versions/plural (either
 *   scope) in discovery and routing as soon as they are created, and get the
 *   NamesAccepted/Established conditions at once. All served versions share
 *   one stored object (conversion strategy None). Custom resources are pruned
 *   of fields their schema does not declare (unless
 *   `x-kubernetes-preserve-unknown-fields`; `fieldValidation=Strict` makes that
 *   a 400, the default `Warn` answers with a `Warning` header), get `default`
 *   values, and are validated with ajv against `openAPIV3Schema` (type,
 *   nullable, required, enum, pattern, minimum/maximum, min/maxLength,
 *   min/maxItems, formats email/date-time/date/uuid loosely; other formats
 *   pass) — 422 Invalid with the field path, worded as the API server words
 *   it. `x-kubernetes-validations` (CEL) rules are ignored. Deleting a CRD
 *   deletes its custom resources first (honouring their finalizers).
 *   Strategic merge patches of custom resources are refused (415), as in a
 *   real cluster.
 * - Server-side tables (`Accept: ...;as=Table;v=v1;g=meta.k8s.io`) for
 *   `kubectl get`: Name + the version's additionalPrinterColumns (simple
 *   JSONPath: `.a.b`, `[0]`, `[*]`, `['key']`, `[?(@.type=="Ready")]`; `date`
 *   columns shown as ages), or Name + Age for everything else (built-ins have
 *   no kind-specific columns). Watches asked for as tables get one-row tables.
 * - Metadata: random uid, creationTimestamp, resourceVersion from one global
 *   counter, generation from 1, bumped when anything but metadata (and status,
 *   where status is a subresource) changes; no-op writes change nothing and
 *   send no event. `managedFields` are never stored or returned. Names are
 *   checked (DNS subdomain; DNS label for namespaces; RFC 1035 label for
 *   services; path segment for RBAC kinds). Namespaced objects need an
 *   existing namespace (404) that is not terminating (403).
 * - Verbs: get; list with `labelSelector` (=, ==, !=, in, notin, exists,
 *   !exists), `fieldSelector` (metadata.name, metadata.namespace; =, ==, !=;
 *   anything else is a 400 as for most real kinds), `limit`/`continue`;
 *   watch (`watch=true|1` on a list path or on an object path, and the legacy
 *   `/watch/` prefix) — see below; create (201, 409 AlreadyExists,
 *   `generateName`); update (PUT; a stale `metadata.resourceVersion` is a 409
 *   Conflict); patch as `application/merge-patch+json` (RFC 7386),
 *   `application/json-patch+json` (RFC 6902, all six operations),
 *   `application/strategic-merge-patch+json` (merge patch, except that lists
 *   whose patch items all have a `name` merge item by item by name — so
 *   containers, env, ports and volumes that carry names —, `$patch:
 *   delete|replace`, `$deleteFromPrimitiveList/<field>` and, as in a real
 *   cluster, `metadata.finalizers` merge as a set; other lists are replaced
 *   and `$setElementOrder`/`$retainKeys` are ignored), and server-side apply
 *   (below); a patch carrying `metadata.resourceVersion` is a precondition;
 *   delete (DeleteOptions preconditions honoured; `propagationPolicy` and
 *   `gracePeriodSeconds` are accepted and ignored — every deletion cascades in
 *   the background); deletecollection. `dryRun=All` is honoured by every
 *   write.
 * - Server-side apply (`application/apply-patch+yaml`, YAML or JSON body,
 *   `fieldManager` required, `force`): creates the object if absent, else
 *   sets every field of the applied configuration and removes the fields this
 *   manager applied last time and no longer does (unless another manager owns
 *   them too). Field ownership is tracked per manager in a private map: apply
 *   managers own the leaves they applied; create/update/patch requests own the
 *   leaves they changed (manager = `fieldManager` or the User-Agent's first
 *   word) and take them from others. Applying a different value to a field
 *   another manager owns is a 409 Conflict naming the manager and field,
 *   unless `force=true`, which takes the field over. Owners are keyed by
 *   manager and operation, as managedFields entries are. As in the API
 *   server, `kubectl apply --server-side` (manager "kubectl") takes over
 *   without a conflict the fields of its own earlier client-side apply (those
 *   in the last-applied-configuration annotation). Simplifications: lists are
 *   atomic (a real cluster merges keyed lists such as containers, conditions
 *   or finalizers item by item), conflicts are checked leaf by leaf, and
 *   `fieldValidation` finds unknown fields only in custom resources (no
 *   schemas for built-ins here).
 * - Deletion: an object with `metadata.finalizers` gets a
 *   `deletionTimestamp` (and `deletionGracePeriodSeconds: 0`) and stays until
 *   an update or patch empties its finalizers; finalizers cannot be added
 *   while it is being deleted (422). Namespaces always go through Terminating:
 *   their contents are deleted (honouring finalizers) and the namespace goes
 *   once it is empty. Garbage collection: an object whose ownerReferences all
 *   point at uids that no longer exist is deleted (recursively; dangling
 *   references count as gone, as in a real cluster). These three "controllers"
 *   run asynchronously after each write, like the real ones, so a deleted
 *   owner's dependents disappear shortly after the owner, not in its DELETE.
 * - Watches: newline-delimited JSON events (`ADDED`, `MODIFIED`, `DELETED`,
 *   `BOOKMARK`, `ERROR`). From a `resourceVersion`: every stored change after
 *   it, then live events; without one (or with "0") synthetic ADDED events
 *   for the current objects first. Selectors are applied to both sides of a
 *   change, so an object that stops (starts) matching arrives as DELETED
 *   (ADDED). `allowWatchBookmarks=true`: a BOOKMARK (kind, apiVersion and
 *   metadata.resourceVersion only) right after the replay and then every
 *   second. `sendInitialEvents=true`: the initial-events-end bookmark.
 *   `timeoutSeconds` ends the stream. After `compact()`, a watch from an
 *   older resourceVersion gets one ERROR event with a 410 Status (reason
 *   Expired, as the API server says it) and the stream ends.
 *   `closeWatches()` ends every stream cleanly; `close()` ends them too, and
 *   watches on a custom kind end when its CRD goes. History is kept until
 *   `compact()`. Lists with `resourceVersion`/`resourceVersionMatch` ignore
 *   them (always the latest state, never 410).
 * - Auth: `Authorization: Bearer <token>` on everything but /version,
 *   /healthz, /livez and /readyz; otherwise a 401 Status.
 * - Errors are `Status` objects with the API server's reasons, messages and
 *   details (`{name, group, kind: <plural>}`; `causes` for 422 and apply
 *   conflicts). `failNext` injects them (429 comes with `Retry-After: 1`,
 *   which kubectl honours by retrying).
 *
 * kubectl needs no special flags (not even `--validate=false`), but it caches
 * discovery and OpenAPI under ~/.kube/cache: pass `--cache-dir <temp dir>` to
 * keep runs independent.
 */
import { generateKeyPairSync, randomBytes, randomUUID, sign } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createSecureServer } from 'node:https';
import { createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { parse as loadYaml, stringify as dumpYaml } from 'yaml';

export interface KubeApiStandIn {
  /** http://127.0.0.1:<port> */
  url: string;
  /** A kubeconfig (in a temp dir) for this server and token, usable by kubectl and client-node. */
  kubeconfigPath: string;
  /** The bearer token every request (but /version and the health checks) must carry. */
  token: string;
  /** Answer the next `count` (1) requests matching `method` and `pathIncludes` (checked against path and query) with a Status error. */
  failNext(opts: { method?: string; pathIncludes?: string; status: number; count?: number; reason?: string }): void;
  /** Forget every failure still pending from failNext. */
  clearFailures(): void;
  /** Forget the change history: a watch from an older resourceVersion now gets 410 Gone. */
  compact(): void;
  /** End every open watch stream (clients must re-watch, or re-list). */
  closeWatches(): void;
  /** The stored objects (deep copies), optionally of one apiVersion and kind. */
  objects(apiVersion?: string, kind?: string): any[];
  get(apiVersion: string, kind: string, name: string, namespace?: string): any | undefined;
  /** Every request: method, path (without the query, which is in `query`), content type, the status answered. */
  requests: RequestRecord[];
  close(): Promise<void>;
}

export interface RequestRecord {
  method: string;
  path: string;
  query: string;
  contentType?: string;
  status: number;
}

type Obj = Record<string, any>;
type Path = string[];
type EventType = 'ADDED' | 'MODIFIED' | 'DELETED';

// ---------------------------------------------------------------------------
// Errors: the API server's Status objects
// ---------------------------------------------------------------------------

const REASONS: Record<number, string> = {
  400: 'BadRequest',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'NotFound',
  405: 'MethodNotAllowed',
  406: 'NotAcceptable',
  409: 'Conflict',
  410: 'Gone',
  415: 'UnsupportedMediaType',
  422: 'Invalid',
  429: 'TooManyRequests',
  500: 'InternalError',
  503: 'ServiceUnavailable',
  504: 'Timeout',
};

class ApiError extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly reason = REASONS[code] ?? 'Unknown',
    readonly details?: Obj,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }

  status(): Obj {
    return {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: this.message,
      reason: this.reason,
      ...(this.details ? { details: this.details } : {}),
      code: this.code,
    };
  }
}

// ---------------------------------------------------------------------------
// Resource types
// ---------------------------------------------------------------------------

interface PrinterColumn {
  name: string;
  type: string;
  format?: string;
  description?: string;
  priority?: number;
  jsonPath: string;
}

interface VersionInfo {
  name: string;
  status: boolean;
  printerColumns: PrinterColumn[];
  /** CRDs only: the openAPIV3Schema and its compiled validator. */
  schema?: Obj;
  validate?: ValidateFunction;
}

interface ResourceType {
  group: string;
  plural: string;
  singular: string;
  kind: string;
  listKind: string;
  namespaced: boolean;
  shortNames: string[];
  categories: string[];
  /** Served versions, the preferred one first. */
  versions: VersionInfo[];
  storageVersion: string;
  /** Defined by a CustomResourceDefinition (its name). */
  crd?: string;
}

const VERBS = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];

// group, version, plural, kind, namespaced, shortNames, has a status subresource
const BUILT_INS: [string, string, string, string, boolean, string[], boolean][] = [
  ['', 'v1', 'namespaces', 'Namespace', false, ['ns'], true],
  ['', 'v1', 'serviceaccounts', 'ServiceAccount', true, ['sa'], false],
  ['', 'v1', 'services', 'Service', true, ['svc'], true],
  ['', 'v1', 'resourcequotas', 'ResourceQuota', true, ['quota'], true],
  ['', 'v1', 'limitranges', 'LimitRange', true, ['limits'], false],
  ['', 'v1', 'configmaps', 'ConfigMap', true, ['cm'], false],
  ['', 'v1', 'secrets', 'Secret', true, [], false],
  ['', 'v1', 'persistentvolumeclaims', 'PersistentVolumeClaim', true, ['pvc'], true],
  ['', 'v1', 'events', 'Event', true, ['ev'], false],
  ['apps', 'v1', 'deployments', 'Deployment', true, ['deploy'], true],
  ['apps', 'v1', 'statefulsets', 'StatefulSet', true, ['sts'], true],
  ['autoscaling', 'v2', 'horizontalpodautoscalers', 'HorizontalPodAutoscaler', true, ['hpa'], true],
  ['networking.k8s.io', 'v1', 'networkpolicies', 'NetworkPolicy', true, ['netpol'], false],
  ['rbac.authorization.k8s.io', 'v1', 'roles', 'Role', true, [], false],
  ['rbac.authorization.k8s.io', 'v1', 'rolebindings', 'RoleBinding', true, [], false],
  ['rbac.authorization.k8s.io', 'v1', 'clusterroles', 'ClusterRole', false, [], false],
  ['rbac.authorization.k8s.io', 'v1', 'clusterrolebindings', 'ClusterRoleBinding', false, [], false],
  ['coordination.k8s.io', 'v1', 'leases', 'Lease', true, [], false],
  ['apiextensions.k8s.io', 'v1', 'customresourcedefinitions', 'CustomResourceDefinition', false, ['crd', 'crds'], true],
];
/** `kubectl get all` covers these. */
const IN_CATEGORY_ALL = new Set(['services', 'deployments', 'statefulsets', 'horizontalpodautoscalers']);

const CRD_TYPE_KEY = 'apiextensions.k8s.io/customresourcedefinitions';
const NAMESPACE_TYPE_KEY = '/namespaces';

function builtInTypes(): ResourceType[] {
  return BUILT_INS.map(([group, version, plural, kind, namespaced, shortNames, status]) => ({
    group,
    plural,
    singular: kind.toLowerCase(),
    kind,
    listKind: `${kind}List`,
    namespaced,
    shortNames,
    categories: IN_CATEGORY_ALL.has(plural) ? ['all'] : [],
    versions: [{ name: version, status, printerColumns: [] }],
    storageVersion: version,
  }));
}

const typeKey = (rt: ResourceType) => `${rt.group}/${rt.plural}`;
const groupVersion = (group: string, version: string) => (group ? `${group}/${version}` : version);
/** How the API server names a resource in messages: `deployments.apps`, `configmaps`. */
const qualified = (rt: ResourceType) => (rt.group ? `${rt.plural}.${rt.group}` : rt.plural);
const versionInfo = (rt: ResourceType, version: string) => rt.versions.find((v) => v.name === version);
const hasStatus = (rt: ResourceType, version: string) => versionInfo(rt, version)?.status ?? false;

/** Kubernetes' version priority (v1 > v1beta2 > v1beta1 > v1alpha1 > anything else), for preferred versions. */
function versionPriority(a: string, b: string): number {
  const parse = (v: string) => {
    const m = /^v(\d+)(?:(alpha|beta)(\d+))?$/.exec(v);
    if (!m) return [0, 0, 0];
    return [m[2] === undefined ? 3 : m[2] === 'beta' ? 2 : 1, Number(m[1]), Number(m[3] ?? 0)];
  };
  const [x, y] = [parse(a), parse(b)];
  for (let i = 0; i < 3; i++) if (x[i] !== y[i]) return y[i]! - x[i]!;
  return a.localeCompare(b);
}

function notFound(rt: ResourceType, name: string): ApiError {
  return new ApiError(404, `${qualified(rt)} "${name}" not found`, 'NotFound', details(rt, name));
}

function details(rt: ResourceType, name: string, extra: Obj = {}): Obj {
  return { name, ...(rt.group ? { group: rt.group } : {}), kind: rt.plural, ...extra };
}

function conflict(rt: ResourceType, name: string): ApiError {
  return new ApiError(
    409,
    `Operation cannot be fulfilled on ${qualified(rt)} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
    'Conflict',
    details(rt, name),
  );
}

function invalid(rt: ResourceType, name: string, causes: { field: string; message: string; reason: string }[]): ApiError {
  const list = causes.map((c) => `${c.field}: ${c.message}`);
  const summary = list.length === 1 ? list[0]! : `[${list.join(', ')}]`;
  return new ApiError(422, `${`${rt.kind}.${rt.group || ''}`.replace(/\.$/, '')} "${name}" is invalid: ${summary}`, 'Invalid', {
    name,
    ...(rt.group ? { group: rt.group } : {}),
    kind: rt.kind,
    causes: causes.map((c) => ({ reason: c.reason, message: c.message, field: c.field })),
  });
}

// ---------------------------------------------------------------------------
// JSON helpers
// ---------------------------------------------------------------------------

const isObject = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const clone = <T>(v: T): T => structuredClone(v);

function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => deepEqual(x, b[i]));
  if (isObject(a) && isObject(b)) {
    const keys = Object.keys(a);
    return keys.length === Object.keys(b).length && keys.every((k) => k in b && deepEqual(a[k], b[k]));
  }
  return false;
}

function getPath(obj: unknown, path: Path): unknown {
  let v = obj;
  for (const key of path) {
    if (!isObject(v)) return undefined;
    v = v[key];
  }
  return v;
}

function setPath(obj: Obj, path: Path, value: unknown): void {
  let v = obj;
  for (const key of path.slice(0, -1)) {
    if (!isObject(v[key])) v[key] = {};
    v = v[key];
  }
  v[path[path.length - 1]!] = value;
}

/** Removes a field, then any parent map (below the top level) that it left empty. */
function deletePath(obj: Obj, path: Path): void {
  const parents: Obj[] = [];
  let v: unknown = obj;
  for (const key of path.slice(0, -1)) {
    if (!isObject(v)) return;
    parents.push(v);
    v = v[key];
  }
  if (!isObject(v)) return;
  delete v[path[path.length - 1]!];
  for (let i = path.length - 2; i >= 1; i--) {
    const parent = parents[i]!;
    if (isObject(parent[path[i]!]) && Object.keys(parent[path[i]!]).length === 0) delete parent[path[i]!];
    else break;
  }
}

/** Metadata the server owns: never part of a field manager's fields. */
const SERVER_METADATA = new Set([
  'name',
  'namespace',
  'uid',
  'resourceVersion',
  'generation',
  'creationTimestamp',
  'deletionTimestamp',
  'deletionGracePeriodSeconds',
  'managedFields',
  'selfLink',
  'generateName',
]);

/** The leaves of an object (scalars, lists, empty maps) by path, keyed by the path's JSON — what a field manager can own. */
function leaves(obj: Obj): Map<string, Path> {
  const out = new Map<string, Path>();
  const walk = (value: unknown, path: Path) => {
    if (isObject(value) && Object.keys(value).length > 0) {
      for (const [key, child] of Object.entries(value)) {
        if (path.length === 0 && (key === 'apiVersion' || key === 'kind')) continue;
        if (path.length === 1 && path[0] === 'metadata' && SERVER_METADATA.has(key)) continue;
        walk(child, [...path, key]);
      }
    } else if (path.length > 0) {
      out.set(JSON.stringify(path), path);
    }
  };
  walk(obj, []);
  return out;
}

const now = () => new Date().toISOString().replace(/\.\d+Z$/, 'Z');

// ---------------------------------------------------------------------------
// Patches
// ---------------------------------------------------------------------------

/** RFC 7386 JSON merge patch. */
function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return clone(patch);
  const result: Obj = isObject(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key];
    else result[key] = mergePatch(result[key], value);
  }
  return result;
}

/** RFC 6902 JSON patch. Failures are 422s, as the API server answers them. */
function jsonPatch(doc: Obj, operations: unknown, fail: (message: string) => ApiError): Obj {
  if (!Array.isArray(operations)) throw new ApiError(400, 'json patch must be an array of operations');
  let root: unknown = clone(doc);
  const pointer = (p: unknown): string[] => {
    if (typeof p !== 'string' || (p !== '' && !p.startsWith('/'))) throw fail(`invalid JSON pointer ${JSON.stringify(p)}`);
    return p === ''
      ? []
      : p
          .slice(1)
          .split('/')
          .map((t) => t.replaceAll('~1', '/').replaceAll('~0', '~'));
  };
  const parentOf = (tokens: string[], op: string): { parent: any; key: string } => {
    let v: any = root;
    for (const t of tokens.slice(0, -1)) {
      v = Array.isArray(v) ? v[Number(t)] : isObject(v) ? v[t] : undefined;
      if (v === undefined) throw fail(`${op} operation does not apply: doc is missing path: /${tokens.join('/')}`);
    }
    return { parent: v, key: tokens[tokens.length - 1]! };
  };
  const read = (tokens: string[], op: string): unknown => {
    if (tokens.length === 0) return root;
    const { parent, key } = parentOf(tokens, op);
    const value = Array.isArray(parent) ? parent[Number(key)] : isObject(parent) ? parent[key] : undefined;
    if (value === undefined) throw fail(`${op} operation does not apply: doc is missing path: /${tokens.join('/')}`);
    return value;
  };
  const add = (tokens: string[], value: unknown, op: string) => {
    if (tokens.length === 0) return void (root = value);
    const { parent, key } = parentOf(tokens, op);
    if (Array.isArray(parent)) {
      const index = key === '-' ? parent.length : Number(key);
      if (!Number.isInteger(index) || index < 0 || index > parent.length)
        throw fail(`${op} operation does not apply: index out of range: /${tokens.join('/')}`);
      parent.splice(index, 0, value);
    } else if (isObject(parent)) parent[key] = value;
    else throw fail(`${op} operation does not apply: doc is missing path: /${tokens.join('/')}`);
  };
  const remove = (tokens: string[], op: string) => {
    read(tokens, op);
    const { parent, key } = parentOf(tokens, op);
    if (Array.isArray(parent)) parent.splice(Number(key), 1);
    else delete parent[key];
  };
  for (const operation of operations) {
    if (!isObject(operation)) throw new ApiError(400, 'json patch operations must be objects');
    const path = pointer(operation.path);
    switch (operation.op) {
      case 'add':
        add(path, clone(operation.value), 'add');
        break;
      case 'remove':
        remove(path, 'remove');
        break;
      case 'replace':
        if (path.length === 0) root = clone(operation.value);
        else {
          remove(path, 'replace');
          add(path, clone(operation.value), 'replace');
        }
        break;
      case 'move': {
        const value = read(pointer(operation.from), 'move');
        remove(pointer(operation.from), 'move');
        add(path, value, 'move');
        break;
      }
      case 'copy':
        add(path, clone(read(pointer(operation.from), 'copy')), 'copy');
        break;
      case 'test':
        if (!deepEqual(read(path, 'test'), operation.value)) throw fail(`testing value /${path.join('/')} failed`);
        break;
      default:
        throw new ApiError(400, `unexpected json patch operation ${JSON.stringify(operation.op)}`);
    }
  }
  if (!isObject(root)) throw fail('the patched document is not an object');
  return root;
}

function stripDirectives(value: unknown): unknown {
  if (Array.isArray(value)) return value.filter((v) => !(isObject(v) && '$patch' in v && Object.keys(v).length === 1)).map(stripDirectives);
  if (!isObject(value)) return value;
  return Object.fromEntries(
    Object.entries(value)
      .filter(([k]) => !k.startsWith('$'))
      .map(([k, v]) => [k, stripDirectives(v)]),
  );
}

/**
 * A simplified strategic merge patch: a merge patch, except that lists whose
 * patch items are all objects with a `name` merge by name (containers, env,
 * ports, volumes...), `metadata.finalizers` merges as a set, and the
 * `$patch` / `$deleteFromPrimitiveList` directives work. Other directives
 * (`$setElementOrder`, `$retainKeys`) only order or prune and are ignored.
 */
function strategicMerge(target: unknown, patch: unknown, path: Path = []): unknown {
  if (!isObject(patch)) return stripDirectives(clone(patch));
  if (patch.$patch === 'replace') return stripDirectives(patch);
  const result: Obj = isObject(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (key.startsWith('$')) continue;
    if (value === null || (isObject(value) && value.$patch === 'delete')) delete result[key];
    else if (Array.isArray(value)) result[key] = mergeList(result[key], value, [...path, key]);
    else result[key] = isObject(value) ? strategicMerge(result[key], value, [...path, key]) : value;
  }
  for (const [key, value] of Object.entries(patch)) {
    const field = key.startsWith('$deleteFromPrimitiveList/') ? key.slice('$deleteFromPrimitiveList/'.length) : undefined;
    if (field && Array.isArray(value) && Array.isArray(result[field])) result[field] = result[field].filter((x: unknown) => !value.includes(x));
  }
  return result;
}

function mergeList(current: unknown, patch: unknown[], path: Path): unknown[] {
  const byName = patch.length > 0 && patch.every((item) => isObject(item) && typeof item.name === 'string');
  if (byName && Array.isArray(current)) {
    const result = clone(current);
    for (const item of patch as Obj[]) {
      const i = result.findIndex((e) => isObject(e) && e.name === item.name);
      if (item.$patch === 'delete') {
        if (i >= 0) result.splice(i, 1);
      } else if (i >= 0) result[i] = strategicMerge(result[i], item, path);
      else result.push(stripDirectives(item));
    }
    return result;
  }
  if (path.join('.') === 'metadata.finalizers' && Array.isArray(current)) return [...current, ...patch.filter((f) => !current.includes(f))];
  return stripDirectives(patch) as unknown[];
}

// ---------------------------------------------------------------------------
// Selectors
// ---------------------------------------------------------------------------

type LabelRequirement = { key: string; op: '=' | '!=' | 'in' | 'notin' | 'exists' | '!exists'; values: string[] };
type FieldRequirement = { field: 'metadata.name' | 'metadata.namespace'; equal: boolean; value: string };
interface Selector {
  labels: LabelRequirement[];
  fields: FieldRequirement[];
}

/** Splits on commas outside parentheses (`a in (x,y),b=c`). */
function splitTerms(selector: string): string[] {
  const terms: string[] = [];
  let depth = 0;
  let term = '';
  for (const ch of selector) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      terms.push(term);
      term = '';
    } else term += ch;
  }
  terms.push(term);
  return terms.map((t) => t.trim()).filter(Boolean);
}

const LABEL_KEY = '[A-Za-z0-9][-A-Za-z0-9_./]*';

function parseLabelSelector(selector: string): LabelRequirement[] {
  return splitTerms(selector).map((term) => {
    let m: RegExpExecArray | null;
    if ((m = new RegExp(`^!\\s*(${LABEL_KEY})$`).exec(term))) return { key: m[1]!, op: '!exists', values: [] };
    if ((m = new RegExp(`^(${LABEL_KEY})\\s+(in|notin)\\s*\\(([^)]*)\\)$`).exec(term))) {
      return {
        key: m[1]!,
        op: m[2] as 'in' | 'notin',
        values: m[3]!
          .split(',')
          .map((v) => v.trim())
          .filter(Boolean),
      };
    }
    if ((m = new RegExp(`^(${LABEL_KEY})\\s*(==|=|!=)\\s*([-A-Za-z0-9_.]*)$`).exec(term)))
      return { key: m[1]!, op: m[2] === '!=' ? '!=' : '=', values: [m[3]!] };
    if ((m = new RegExp(`^(${LABEL_KEY})$`).exec(term))) return { key: m[1]!, op: 'exists', values: [] };
    throw new ApiError(400, `unable to parse requirement: found '${term}', expected: a label selector`);
  });
}

function parseFieldSelector(selector: string): FieldRequirement[] {
  return splitTerms(selector).map((term) => {
    const m = /^([^=!]+?)\s*(==|=|!=)\s*(.*)$/.exec(term);
    if (!m) throw new ApiError(400, `invalid selector: '${selector}'; can't understand '${term}'`);
    if (m[1] !== 'metadata.name' && m[1] !== 'metadata.namespace') {
      throw new ApiError(400, `"${m[1]}" is not a known field selector: only "metadata.name", "metadata.namespace"`);
    }
    return { field: m[1], equal: m[2] !== '!=', value: m[3]! };
  });
}

function parseSelector(query: URLSearchParams, name?: string): Selector {
  const fields = parseFieldSelector(query.get('fieldSelector') ?? '');
  if (name !== undefined) fields.push({ field: 'metadata.name', equal: true, value: name });
  return { labels: parseLabelSelector(query.get('labelSelector') ?? ''), fields };
}

function matches(selector: Selector, obj: Obj): boolean {
  const labels: Obj = obj.metadata?.labels ?? {};
  const labelsOk = selector.labels.every(({ key, op, values }) => {
    const has = Object.hasOwn(labels, key);
    switch (op) {
      case '=':
        return has && labels[key] === values[0];
      case '!=':
        return !has || labels[key] !== values[0];
      case 'in':
        return has && values.includes(labels[key]);
      case 'notin':
        return !has || !values.includes(labels[key]);
      case 'exists':
        return has;
      case '!exists':
        return !has;
      default:
        return false;
    }
  });
  const fieldsOk = selector.fields.every(({ field, equal, value }) => {
    const actual = field === 'metadata.name' ? obj.metadata?.name : (obj.metadata?.namespace ?? '');
    return (actual === value) === equal;
  });
  return labelsOk && fieldsOk;
}

// ---------------------------------------------------------------------------
// Names
// ---------------------------------------------------------------------------

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** The API server's name rules for the kinds served here; undefined when the name is fine. */
function nameProblem(rt: ResourceType, name: string): string | undefined {
  if (rt.group === 'rbac.authorization.k8s.io') {
    return name === '.' || name === '..' || /[/%]/.test(name) ? `may not be '.' or '..' and may not contain '/' or '%'` : undefined;
  }
  if (rt.plural === 'namespaces' && rt.group === '') {
    return name.length <= 63 && DNS_LABEL.test(name)
      ? undefined
      : `a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character`;
  }
  if (rt.plural === 'services' && rt.group === '') {
    return name.length <= 63 && DNS_1035_LABEL.test(name)
      ? undefined
      : `a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character`;
  }
  return name.length <= 253 && DNS_SUBDOMAIN.test(name)
    ? undefined
    : `a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character`;
}

const GENERATE_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';
const randomSuffix = () => Array.from({ length: 5 }, () => GENERATE_ALPHABET[Math.floor(Math.random() * GENERATE_ALPHABET.length)]).join('');

// ---------------------------------------------------------------------------
// Custom resource schemas: pruning, defaults, validation
// ---------------------------------------------------------------------------

function newAjv(): Ajv {
  // strict: false — Kubernetes schemas carry x-kubernetes-* keywords and formats ajv does not know.
  const ajv = new Ajv({ strict: false, allErrors: true, useDefaults: true, logger: false });
  ajv.addFormat('email', /^[^\s@]+@[^\s@]+\.[^\s@]+$/);
  ajv.addFormat('date-time', /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/);
  ajv.addFormat('date', /^\d{4}-\d{2}-\d{2}$/);
  ajv.addFormat('uuid', /^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$/);
  return ajv;
}

/**
 * Structural-schema pruning: drops (and reports) the fields a schema does not
 * declare. The root's apiVersion/kind/metadata are always kept, as are those
 * of `x-kubernetes-embedded-resource` objects.
 */
function prune(value: unknown, schema: Obj | undefined, path: string, unknown: string[], embedded = false): void {
  if (!schema) return;
  if (Array.isArray(value)) {
    for (const [i, item] of value.entries()) prune(item, schema.items, `${path}[${i}]`, unknown);
    return;
  }
  if (!isObject(value)) return;
  const properties: Obj = schema.properties ?? {};
  const preserve = schema['x-kubernetes-preserve-unknown-fields'] === true;
  const keepMeta = embedded || schema['x-kubernetes-embedded-resource'] === true;
  for (const key of Object.keys(value)) {
    const child = path ? `${path}.${key}` : key;
    if (keepMeta && (key === 'apiVersion' || key === 'kind' || key === 'metadata') && (path === '' || !properties[key])) continue;
    if (properties[key]) prune(value[key], properties[key], child, unknown);
    else if (isObject(schema.additionalProperties)) prune(value[key], schema.additionalProperties, child, unknown);
    else if (!preserve && schema.additionalProperties !== true) {
      delete value[key];
      unknown.push(child);
    }
  }
}

/** `/spec/items/0/name` → `spec.items[0].name`, as the API server writes field paths. */
function fieldPath(instancePath: string, extra?: string): string {
  const parts = instancePath
    .split('/')
    .slice(1)
    .map((p) => p.replaceAll('~1', '/').replaceAll('~0', '~'));
  if (extra !== undefined) parts.push(extra);
  return parts.reduce((acc, p) => (/^\d+$/.test(p) ? `${acc}[${p}]` : acc ? `${acc}.${p}` : p), '');
}

/** One ajv error in the API server's words. */
function describeSchemaError(e: ErrorObject, obj: Obj): { field: string; message: string; reason: string } {
  const field = fieldPath(e.instancePath);
  const value = getPath(obj, e.instancePath.split('/').slice(1));
  const shown = JSON.stringify(value);
  const p = e.params as Obj;
  switch (e.keyword) {
    case 'required':
      return { field: fieldPath(e.instancePath, p.missingProperty), message: 'Required value', reason: 'FieldValueRequired' };
    case 'enum':
      return {
        field,
        message: `Unsupported value: ${shown}: supported values: ${(p.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`,
        reason: 'FieldValueNotSupported',
      };
    case 'type':
      return {
        field,
        message: `Invalid value: "${Array.isArray(value) ? 'array' : value === null ? 'null' : typeof value}": ${field} in body must be of type ${p.type}: ${shown}`,
        reason: 'FieldValueTypeInvalid',
      };
    case 'pattern':
      return { field, message: `Invalid value: ${shown}: ${field} in body should match '${p.pattern}'`, reason: 'FieldValueInvalid' };
    case 'format':
      return { field, message: `Invalid value: ${shown}: ${field} in body must be of type ${p.format}: ${shown}`, reason: 'FieldValueInvalid' };
    case 'minimum':
    case 'exclusiveMinimum':
      return {
        field,
        message: `Invalid value: ${shown}: ${field} in body should be greater than${e.keyword === 'minimum' ? ' or equal to' : ''} ${p.limit}`,
        reason: 'FieldValueInvalid',
      };
    case 'maximum':
    case 'exclusiveMaximum':
      return {
        field,
        message: `Invalid value: ${shown}: ${field} in body should be less than${e.keyword === 'maximum' ? ' or equal to' : ''} ${p.limit}`,
        reason: 'FieldValueInvalid',
      };
    case 'maxLength':
      return { field, message: `Too long: may not be more than ${p.limit} bytes`, reason: 'FieldValueTooLong' };
    case 'minLength':
      return { field, message: `Invalid value: ${shown}: ${field} in body should be at least ${p.limit} chars long`, reason: 'FieldValueInvalid' };
    case 'maxItems':
      return { field, message: `Too many: ${Array.isArray(value) ? value.length : '?'}: must have at most ${p.limit} items`, reason: 'FieldValueTooMany' };
    case 'minItems':
      return { field, message: `Invalid value: ${shown}: ${field} in body should have at least ${p.limit} items`, reason: 'FieldValueInvalid' };
    default:
      return { field, message: `Invalid value: ${shown}: ${e.message ?? e.keyword}`, reason: 'FieldValueInvalid' };
  }
}

// ---------------------------------------------------------------------------
// Tables (server-side printing for kubectl get)
// ---------------------------------------------------------------------------

/** A small JSONPath for printer columns: `.a.b`, `[0]`, `[*]`, `['k']`, `[?(@.a.b=="v")]`. Returns every match. */
function evalJsonPath(obj: unknown, expression: string): unknown[] {
  const s = expression
    .trim()
    .replace(/^\{(.*)\}$/, '$1')
    .replace(/^\$/, '');
  let current: unknown[] = [obj];
  let i = 0;
  while (i < s.length) {
    if (s[i] === '.') {
      const m = /^\.([^.[\]]+)/.exec(s.slice(i));
      if (!m) return [];
      current = current.flatMap((v) => (isObject(v) && m[1]! in v ? [v[m[1]!]] : []));
      i += m[0].length;
    } else if (s[i] === '[') {
      const end = s.startsWith('[?(', i) ? s.indexOf(')]', i) + 1 : s.indexOf(']', i);
      if (end <= i) return [];
      const inner = s.slice(i + 1, end);
      i = end + 1;
      let m: RegExpExecArray | null;
      if (inner === '*') current = current.flatMap((v) => (Array.isArray(v) ? v : isObject(v) ? Object.values(v) : []));
      else if (/^-?\d+$/.test(inner)) current = current.flatMap((v) => (Array.isArray(v) && v.at(Number(inner)) !== undefined ? [v.at(Number(inner))] : []));
      else if ((m = /^(['"])(.*)\1$/.exec(inner))) current = current.flatMap((v) => (isObject(v) && m![2]! in v ? [v[m![2]!]] : []));
      else if ((m = /^\?\(@\.([\w.-]+)\s*(==|!=)\s*(?:(['"])(.*)\3|([^)]*))\)$/.exec(inner))) {
        const [, path, op, , quoted, bare] = m;
        const wanted = quoted ?? bare!.trim();
        current = current.flatMap((v) => (Array.isArray(v) ? v.filter((e) => (String(getPath(e, path!.split('.'))) === wanted) === (op === '==')) : []));
      } else return [];
    } else return [];
  }
  return current;
}

/** Kubernetes' HumanDuration, for `date` columns (kubectl shows ages, not timestamps). */
function humanDuration(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  if (seconds < -1) return '<invalid>';
  if (seconds < 0) return '0s';
  if (seconds < 120) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 10) return seconds % 60 === 0 ? `${minutes}m` : `${minutes}m${seconds % 60}s`;
  if (minutes < 180) return `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  if (hours < 8) return minutes % 60 === 0 ? `${hours}h` : `${hours}h${minutes % 60}m`;
  if (hours < 48) return `${hours}h`;
  if (hours < 24 * 8) return hours % 24 === 0 ? `${Math.floor(hours / 24)}d` : `${Math.floor(hours / 24)}d${hours % 24}h`;
  if (hours < 24 * 365 * 2) return `${Math.floor(hours / 24)}d`;
  const days = Math.floor(hours / 24);
  if (hours < 24 * 365 * 8) return days % 365 === 0 ? `${Math.floor(days / 365)}y` : `${Math.floor(days / 365)}y${days % 365}d`;
  return `${Math.floor(days / 365)}y`;
}

const AGE_COLUMN: PrinterColumn = {
  name: 'Age',
  type: 'date',
  jsonPath: '.metadata.creationTimestamp',
  description: 'CreationTimestamp is a timestamp representing the server time when this object was created.',
};

function tableCell(obj: Obj, column: PrinterColumn): unknown {
  const found = evalJsonPath(obj, column.jsonPath);
  if (found.length === 0 || found[0] === undefined || found[0] === null) return null;
  if (column.type === 'date') return humanDuration(Date.now() - new Date(String(found[0])).getTime());
  if (found.length > 1) return found.map((v) => (typeof v === 'object' ? JSON.stringify(v) : String(v))).join(' ');
  const value = found[0];
  if (column.type === 'integer' || column.type === 'number') return typeof value === 'number' ? value : Number(value);
  if (column.type === 'boolean') return typeof value === 'boolean' ? value : String(value) === 'true';
  return typeof value === 'object' ? JSON.stringify(value) : String(value);
}

function toTable(rt: ResourceType, version: string, objects: Obj[], includeObject: string, listMeta: Obj): Obj {
  const printerColumns = versionInfo(rt, version)?.printerColumns ?? [];
  const columns = printerColumns.length > 0 ? printerColumns : [AGE_COLUMN];
  return {
    kind: 'Table',
    apiVersion: 'meta.k8s.io/v1',
    metadata: listMeta,
    columnDefinitions: [
      { name: 'Name', type: 'string', format: 'name', description: 'Name must be unique within a namespace.', priority: 0 },
      ...columns.map((c) => ({ name: c.name, type: c.type, format: c.format ?? '', description: c.description ?? '', priority: c.priority ?? 0 })),
    ],
    rows: objects.map((o) => ({
      cells: [o.metadata.name, ...columns.map((c) => tableCell(o, c))],
      ...(includeObject === 'None'
        ? {}
        : { object: includeObject === 'Object' ? o : { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: o.metadata } }),
    })),
  };
}

const wantsTable = (accept: string | undefined) => /as=Table/.test(accept ?? '') && /g=meta\.k8s\.io/.test(accept ?? '');

// ---------------------------------------------------------------------------
// The cluster: storage, history, field owners, controllers
// ---------------------------------------------------------------------------

interface HistoryEvent {
  rv: number;
  type: EventType;
  typeKey: string;
  object: Obj;
  /** For MODIFIED: the object before, so selectors can be applied to both sides. */
  previous?: Obj;
}

interface Watcher {
  typeKey: string;
  rt: ResourceType;
  version: string;
  namespace?: string;
  selector: Selector;
  asTable: boolean;
  includeObject: string;
  send(event: { type: string; object: Obj }): void;
  end(): void;
}

/** One entry of what real objects keep in managedFields: a manager, how it wrote (Apply or Update), the fields it owns. */
interface FieldOwner {
  manager: string;
  operation: 'Apply' | 'Update';
  fields: Set<string>;
}

const ownerKey = (operation: 'Apply' | 'Update', manager: string) => `${operation}:${manager}`;

interface WriteOptions {
  dryRun: boolean;
  /** Who the write's changed fields belong to. */
  manager: string;
  fieldValidation: string;
  warnings: string[];
}

class Cluster {
  readonly types = new Map<string, ResourceType>();
  readonly store = new Map<string, Obj>();
  readonly uids = new Map<string, string>();
  readonly history: HistoryEvent[] = [];
  readonly watchers = new Set<Watcher>();
  /** Object key → `Apply:<manager>` / `Update:<manager>` → the fields it owns (server-side apply). */
  readonly owners = new Map<string, Map<string, FieldOwner>>();
  readonly ajv = newAjv();
  readonly validators = new Map<string, ValidateFunction>();
  rv = 0;
  compactedRv = 0;
  #controllersScheduled = false;
  closed = false;

  constructor() {
    for (const rt of builtInTypes()) this.types.set(typeKey(rt), rt);
  }

  // ----- lookup -----

  typeFor(group: string, version: string, plural: string): ResourceType | undefined {
    const rt = this.types.get(`${group}/${plural}`);
    return rt && versionInfo(rt, version) ? rt : undefined;
  }

  typeByKind(apiVersion: string, kind: string): ResourceType | undefined {
    const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion];
    return [...this.types.values()].find((rt) => rt.group === group && rt.kind === kind && versionInfo(rt, version!));
  }

  key(rt: ResourceType, namespace: string | undefined, name: string): string {
    return `${typeKey(rt)}/${rt.namespaced ? (namespace ?? '') : ''}/${name}`;
  }

  objectsOf(rt: ResourceType, namespace?: string): Obj[] {
    const prefix = namespace === undefined || !rt.namespaced ? `${typeKey(rt)}/` : `${typeKey(rt)}/${namespace}/`;
    return [...this.store.entries()]
      .filter(([k]) => k.startsWith(prefix))
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([, o]) => o);
  }

  /** The object as a client of `version` sees it (one stored object serves every version). */
  present(rt: ResourceType, version: string, obj: Obj): Obj {
    const copy = clone(obj);
    copy.apiVersion = groupVersion(rt.group, version);
    copy.kind = rt.kind;
    return copy;
  }

  // ----- commits, history, watch fan-out -----

  nextRv(): string {
    return String(++this.rv);
  }

  commit(rt: ResourceType, type: EventType, obj: Obj, previous?: Obj): void {
    const key = this.key(rt, obj.metadata.namespace, obj.metadata.name);
    if (type === 'DELETED') {
      this.store.delete(key);
      this.uids.delete(obj.metadata.uid);
      this.owners.delete(key);
    } else {
      this.store.set(key, obj);
      this.uids.set(obj.metadata.uid, key);
    }
    const event: HistoryEvent = {
      rv: Number(obj.metadata.resourceVersion),
      type,
      typeKey: typeKey(rt),
      object: clone(obj),
      previous: previous && clone(previous),
    };
    this.history.push(event);
    for (const watcher of this.watchers) this.deliver(watcher, event);
    if (typeKey(rt) === CRD_TYPE_KEY) this.syncCustomTypes();
    this.scheduleControllers();
  }

  /** Sends an event to a watcher if it concerns it; a selector match that changes turns MODIFIED into ADDED or DELETED. */
  deliver(watcher: Watcher, event: HistoryEvent): void {
    if (event.typeKey !== watcher.typeKey) return;
    if (watcher.namespace !== undefined && watcher.rt.namespaced && event.object.metadata.namespace !== watcher.namespace) return;
    const now = matches(watcher.selector, event.object);
    let type: string = event.type;
    if (event.type === 'MODIFIED' && event.previous) {
      const before = matches(watcher.selector, event.previous);
      if (!before && !now) return;
      if (!before) type = 'ADDED';
      else if (!now) type = 'DELETED';
    } else if (!now) return;
    watcher.send({ type, object: this.watchObject(watcher, event.object) });
  }

  watchObject(watcher: Watcher, obj: Obj): Obj {
    const presented = this.present(watcher.rt, watcher.version, obj);
    return watcher.asTable
      ? toTable(watcher.rt, watcher.version, [presented], watcher.includeObject, { resourceVersion: presented.metadata.resourceVersion })
      : presented;
  }

  // ----- custom resource definitions -----

  /** Rebuilds the custom resource types from the stored CRDs (called after every CRD change). */
  syncCustomTypes(): void {
    for (const [key, rt] of this.types) if (rt.crd) this.types.delete(key);
    for (const crd of this.objectsOf(this.types.get(CRD_TYPE_KEY)!)) {
      const rt = this.typeFromCrd(crd);
      if (rt && !this.types.has(typeKey(rt))) this.types.set(typeKey(rt), rt);
    }
    // Watches on a kind that is no longer served end, as the API server ends them.
    for (const watcher of [...this.watchers]) if (!this.types.has(watcher.typeKey)) watcher.end();
  }

  typeFromCrd(crd: Obj): ResourceType | undefined {
    const spec = crd.spec ?? {};
    const names = spec.names ?? {};
    const versions: VersionInfo[] = (spec.versions ?? [])
      .filter((v: Obj) => v.served !== false)
      .map((v: Obj) => ({
        name: v.name,
        status: isObject(v.subresources) && 'status' in v.subresources,
        printerColumns: (v.additionalPrinterColumns ?? []) as PrinterColumn[],
        schema: v.schema?.openAPIV3Schema,
        validate: v.schema?.openAPIV3Schema ? this.validator(v.schema.openAPIV3Schema) : undefined,
      }))
      .sort((a: VersionInfo, b: VersionInfo) => versionPriority(a.name, b.name));
    if (!spec.group || !names.plural || !names.kind || versions.length === 0) return undefined;
    return {
      group: spec.group,
      plural: names.plural,
      singular: names.singular ?? names.kind.toLowerCase(),
      kind: names.kind,
      listKind: names.listKind ?? `${names.kind}List`,
      namespaced: spec.scope !== 'Cluster',
      shortNames: names.shortNames ?? [],
      categories: names.categories ?? [],
      versions,
      storageVersion: (spec.versions as Obj[]).find((v) => v.storage)?.name ?? versions[0]!.name,
      crd: crd.metadata.name,
    };
  }

  validator(schema: Obj): ValidateFunction {
    const key = JSON.stringify(schema);
    let validate = this.validators.get(key);
    if (!validate) {
      validate = this.ajv.compile(schema);
      this.validators.set(key, validate);
    }
    return validate;
  }

  /** The checks the API server makes of a CRD that matter here; a 422 lists every problem. */
  validateCrd(rt: ResourceType, crd: Obj): void {
    const spec = crd.spec ?? {};
    const causes: { field: string; message: string; reason: string }[] = [];
    const problem = (field: string, message: string, reason = 'FieldValueInvalid') => causes.push({ field, message, reason });
    if (!spec.group) problem('spec.group', 'Required value', 'FieldValueRequired');
    else if (!String(spec.group).includes('.')) problem('spec.group', `Invalid value: "${spec.group}": should be a domain with at least one dot`);
    if (!spec.names?.plural) problem('spec.names.plural', 'Required value', 'FieldValueRequired');
    if (!spec.names?.kind) problem('spec.names.kind', 'Required value', 'FieldValueRequired');
    if (spec.group && spec.names?.plural && crd.metadata.name !== `${spec.names.plural}.${spec.group}`) {
      problem('metadata.name', `Invalid value: "${crd.metadata.name}": must be spec.names.plural+"."+spec.group`);
    }
    if (spec.scope !== 'Namespaced' && spec.scope !== 'Cluster')
      problem('spec.scope', `Unsupported value: ${JSON.stringify(spec.scope ?? '')}: supported values: "Cluster", "Namespaced"`, 'FieldValueNotSupported');
    const versions: Obj[] = Array.isArray(spec.versions) ? spec.versions : [];
    if (versions.length === 0) problem('spec.versions', 'Invalid value: null: must have exactly one version marked as storage version');
    else if (versions.filter((v) => v.storage === true).length !== 1)
      problem('spec.versions', 'Invalid value: must have exactly one version marked as storage version');
    versions.forEach((v, i) => {
      if (!v.schema?.openAPIV3Schema) problem(`spec.versions[${i}].schema.openAPIV3Schema`, 'Required value: schemas are required', 'FieldValueRequired');
      else {
        try {
          this.validator(v.schema.openAPIV3Schema);
        } catch (err) {
          problem(`spec.versions[${i}].schema.openAPIV3Schema`, `Invalid value: ${(err as Error).message}`);
        }
      }
    });
    if (causes.length > 0) throw invalid(rt, crd.metadata.name, causes);
  }

  /** What the apiextensions controllers would write into a new or changed CRD's status. */
  crdStatus(crd: Obj, previous?: Obj): Obj {
    const names = crd.spec?.names ?? {};
    const since = previous?.status?.conditions?.[0]?.lastTransitionTime ?? now();
    const storage = (crd.spec?.versions ?? []).find((v: Obj) => v.storage)?.name;
    const stored = new Set<string>([...(previous?.status?.storedVersions ?? []), ...(storage ? [storage] : [])]);
    return {
      acceptedNames: {
        plural: names.plural,
        singular: names.singular ?? String(names.kind ?? '').toLowerCase(),
        kind: names.kind,
        listKind: names.listKind ?? `${names.kind}List`,
        ...(names.shortNames ? { shortNames: names.shortNames } : {}),
        ...(names.categories ? { categories: names.categories } : {}),
      },
      conditions: [
        { type: 'NamesAccepted', status: 'True', lastTransitionTime: since, reason: 'NoConflicts', message: 'no conflicts found' },
        { type: 'Established', status: 'True', lastTransitionTime: since, reason: 'InitialNamesAccepted', message: 'the initial names have been accepted' },
      ],
      storedVersions: [...stored],
    };
  }

  /** Prunes, defaults and validates a custom resource against its version's schema (the object is changed in place). */
  checkCustomResource(rt: ResourceType, version: string, obj: Obj, options: WriteOptions): void {
    const info = versionInfo(rt, version);
    if (!info?.schema || !info.validate) return;
    const unknown: string[] = [];
    prune(obj, info.schema, '', unknown, true);
    if (unknown.length > 0 && options.fieldValidation === 'Strict') {
      throw new ApiError(
        400,
        `${rt.kind} in version "${version}" cannot be handled as a ${rt.kind}: strict decoding error: ${unknown.map((f) => `unknown field "${f}"`).join(', ')}`,
        'BadRequest',
      );
    }
    if (options.fieldValidation !== 'Ignore') options.warnings.push(...unknown.map((f) => `unknown field "${f}"`));
    // ajv checks the whole object; the root schema rarely describes metadata, so it is set aside meanwhile.
    const { metadata, ...rest } = obj;
    const valid = info.validate(rest);
    Object.assign(obj, rest, { metadata });
    if (!valid) {
      const causes = (info.validate.errors ?? []).map((e) => describeSchemaError(e, rest));
      throw invalid(rt, metadata.name, dedupe(causes));
    }
  }

  // ----- namespaces -----

  namespace(name: string): Obj | undefined {
    return this.store.get(`${NAMESPACE_TYPE_KEY}//${name}`);
  }

  requireNamespace(rt: ResourceType, namespace: string | undefined, name: string): void {
    if (!rt.namespaced) return;
    if (!namespace) throw new ApiError(400, 'the server could not find the requested resource: a namespace is required', 'BadRequest');
    const ns = this.namespace(namespace);
    if (!ns) throw new ApiError(404, `namespaces "${namespace}" not found`, 'NotFound', { name: namespace, kind: 'namespaces' });
    if (ns.metadata.deletionTimestamp) {
      throw new ApiError(
        403,
        `${qualified(rt)} "${name}" is forbidden: unable to create new content in namespace ${namespace} because it is being terminated`,
        'Forbidden',
        details(rt, name, {
          causes: [{ reason: 'NamespaceTerminating', message: `namespace ${namespace} is being terminated`, field: 'metadata.namespace' }],
        }),
      );
    }
  }

  // ----- writes -----

  /** Checks and fills what every incoming object needs: kind, apiVersion, namespace, name matching the URL. */
  incoming(rt: ResourceType, version: string, body: unknown, namespace: string | undefined, name?: string): Obj {
    if (!isObject(body)) throw new ApiError(400, 'the body of the request must be a JSON or YAML object', 'BadRequest');
    const obj = clone(body);
    const gv = groupVersion(rt.group, version);
    if (obj.apiVersion !== undefined && obj.apiVersion !== gv)
      throw new ApiError(400, `the API version in the data (${obj.apiVersion}) does not match the expected API version (${gv})`, 'BadRequest');
    if (obj.kind !== undefined && obj.kind !== rt.kind)
      throw new ApiError(400, `the kind in the data (${obj.kind}) does not match the expected kind (${rt.kind})`, 'BadRequest');
    obj.apiVersion = groupVersion(rt.group, rt.storageVersion);
    obj.kind = rt.kind;
    const metadata: Obj = (obj.metadata = isObject(obj.metadata) ? obj.metadata : {});
    if (rt.namespaced) {
      if (metadata.namespace !== undefined && metadata.namespace !== '' && metadata.namespace !== namespace) {
        throw new ApiError(400, 'the namespace of the provided object does not match the namespace sent on the request', 'BadRequest');
      }
      metadata.namespace = namespace;
    } else delete metadata.namespace;
    if (name !== undefined) {
      if (metadata.name === undefined || metadata.name === '') metadata.name = name;
      else if (metadata.name !== name)
        throw new ApiError(400, `the name of the object (${metadata.name}) does not match the name on the URL (${name})`, 'BadRequest');
    }
    delete metadata.managedFields;
    delete metadata.selfLink;
    return obj;
  }

  create(rt: ResourceType, version: string, namespace: string | undefined, body: unknown, options: WriteOptions, applied?: Map<string, Path>): Obj {
    const obj = this.incoming(rt, version, body, namespace);
    const metadata = obj.metadata;
    if (!metadata.name) {
      if (!metadata.generateName)
        throw invalid(rt, '', [{ field: 'metadata.name', message: 'Required value: name or generateName is required', reason: 'FieldValueRequired' }]);
      do metadata.name = `${metadata.generateName}${randomSuffix()}`;
      while (this.store.has(this.key(rt, namespace, metadata.name)));
    }
    const problem = nameProblem(rt, metadata.name);
    if (problem)
      throw invalid(rt, metadata.name, [{ field: 'metadata.name', message: `Invalid value: "${metadata.name}": ${problem}`, reason: 'FieldValueInvalid' }]);
    this.requireNamespace(rt, namespace, metadata.name);
    if (rt.crd && this.get(this.types.get(CRD_TYPE_KEY)!, undefined, rt.crd)?.metadata.deletionTimestamp) {
      throw new ApiError(405, `create not allowed while custom resource definition is terminating`, 'MethodNotAllowed');
    }
    if (this.store.has(this.key(rt, namespace, metadata.name))) {
      throw new ApiError(409, `${qualified(rt)} "${metadata.name}" already exists`, 'AlreadyExists', details(rt, metadata.name));
    }
    Object.assign(metadata, { uid: randomUUID(), creationTimestamp: now(), generation: 1 });
    delete metadata.deletionTimestamp;
    delete metadata.deletionGracePeriodSeconds;
    delete metadata.resourceVersion;
    // Status is the controllers' to write: creation starts without it, as in the API server's strategies.
    if (hasStatus(rt, version)) delete obj.status;
    if (typeKey(rt) === NAMESPACE_TYPE_KEY) obj.status = { phase: 'Active' };
    if (typeKey(rt) === CRD_TYPE_KEY) {
      this.validateCrd(rt, obj);
      obj.status = this.crdStatus(obj);
    }
    if (rt.crd) this.checkCustomResource(rt, version, obj, options);
    if (options.dryRun) return this.present(rt, version, obj);
    metadata.resourceVersion = this.nextRv();
    this.recordOwnership(rt, undefined, obj, options.manager, applied);
    this.commit(rt, 'ADDED', obj);
    return this.present(rt, version, obj);
  }

  get(rt: ResourceType, namespace: string | undefined, name: string): Obj | undefined {
    return this.store.get(this.key(rt, namespace, name));
  }

  require(rt: ResourceType, namespace: string | undefined, name: string): Obj {
    const obj = this.get(rt, namespace, name);
    if (!obj) throw notFound(rt, name);
    return obj;
  }

  /**
   * The common tail of update, patch and apply: subresource semantics, the
   * resourceVersion precondition, immutable metadata, validation, generation,
   * no-op detection, and removal once the last finalizer of a deleted object
   * is gone.
   */
  update(rt: ResourceType, version: string, current: Obj, candidate: Obj, sub: string | undefined, options: WriteOptions, applied?: Map<string, Path>): Obj {
    const name = current.metadata.name;
    const wanted = candidate.metadata?.resourceVersion;
    if (wanted !== undefined && wanted !== '' && wanted !== current.metadata.resourceVersion) throw conflict(rt, name);
    let next: Obj;
    if (sub === 'status') {
      next = clone(current);
      if (candidate.status === undefined) delete next.status;
      else next.status = clone(candidate.status);
    } else {
      next = clone(candidate);
      next.metadata = { ...next.metadata };
      for (const field of ['uid', 'creationTimestamp', 'deletionTimestamp', 'deletionGracePeriodSeconds', 'generation', 'namespace', 'name']) {
        if (current.metadata[field] === undefined) delete next.metadata[field];
        else next.metadata[field] = current.metadata[field];
      }
      if (hasStatus(rt, version)) {
        if (current.status === undefined) delete next.status;
        else next.status = clone(current.status);
      }
    }
    next.apiVersion = current.apiVersion;
    next.kind = current.kind;
    delete next.metadata.managedFields;
    if (current.metadata.deletionTimestamp) {
      const added = (next.metadata.finalizers ?? []).filter((f: string) => !(current.metadata.finalizers ?? []).includes(f));
      if (added.length > 0)
        throw invalid(rt, name, [
          {
            field: 'metadata.finalizers',
            message: `Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers ${JSON.stringify(added)}`,
            reason: 'FieldValueForbidden',
          },
        ]);
    }
    if (typeKey(rt) === CRD_TYPE_KEY && sub !== 'status') {
      this.validateCrd(rt, next);
      next.status = this.crdStatus(next, current);
    }
    if (rt.crd) this.checkCustomResource(rt, version, next, options);
    // Generation counts changes to anything but metadata (and status, where status is a subresource).
    const spec = (o: Obj) => Object.fromEntries(Object.entries(o).filter(([k]) => k !== 'metadata' && !(k === 'status' && hasStatus(rt, version))));
    if (!deepEqual(spec(current), spec(next))) next.metadata.generation = (current.metadata.generation ?? 0) + 1;
    next.metadata.resourceVersion = current.metadata.resourceVersion;
    if (deepEqual(current, next)) {
      // Nothing changed: the API server neither bumps the resourceVersion nor sends an event. Apply still records its fields.
      if (applied && !options.dryRun) this.recordOwnership(rt, current, current, options.manager, applied);
      return this.present(rt, version, current);
    }
    if (options.dryRun) return this.present(rt, version, next);
    next.metadata.resourceVersion = this.nextRv();
    this.recordOwnership(rt, current, next, options.manager, applied);
    this.commit(rt, 'MODIFIED', next, current);
    if (this.removable(rt, next)) this.remove(rt, next);
    return this.present(rt, version, next);
  }

  /** Server-side apply of `config` by `manager`: conflicts, merge, and removal of the fields it no longer applies. */
  apply(
    rt: ResourceType,
    version: string,
    namespace: string | undefined,
    name: string,
    sub: string | undefined,
    body: unknown,
    force: boolean,
    options: WriteOptions,
  ): { created: boolean; object: Obj } {
    if (!isObject(body)) throw new ApiError(400, 'the body of an apply request must be a YAML or JSON object', 'BadRequest');
    if (!body.apiVersion || !body.kind) throw new ApiError(400, 'apiVersion and kind must be set in an applied configuration', 'BadRequest');
    const config = this.incoming(rt, version, body, namespace, name);
    const statusOnly = sub === 'status';
    const withStatus = hasStatus(rt, version);
    const applied = new Map([...leaves(config)].filter(([, p]) => (statusOnly ? p[0] === 'status' : !(withStatus && p[0] === 'status'))));
    const current = this.get(rt, namespace, name);
    if (!current) {
      if (statusOnly) throw notFound(rt, name);
      return { created: true, object: this.create(rt, version, namespace, config, options, applied) };
    }
    const owners = this.owners.get(this.key(rt, namespace, name)) ?? new Map<string, FieldOwner>();
    const mine = ownerKey('Apply', options.manager);
    const conflicts: { manager: string; field: string }[] = [];
    for (const [key, path] of applied) {
      const value = getPath(config, path);
      if (deepEqual(getPath(current, path), value)) continue; // the same value never conflicts
      for (const [entry, owned] of owners) {
        if (entry === mine) continue;
        for (const field of owned.fields) {
          // The same leaf, or one inside the other (a map replaced by a scalar, say).
          if (field === key || field.startsWith(`${key.slice(0, -1)},`) || key.startsWith(`${field.slice(0, -1)},`))
            conflicts.push({ manager: owned.manager, field });
        }
      }
    }
    if (conflicts.length > 0 && !force && !this.upgradesClientSideApply(current, options.manager, conflicts)) throw applyConflict(rt, name, conflicts);
    const next = clone(current);
    // What this manager applied last time and no longer does goes, unless someone else owns it too.
    for (const field of owners.get(mine)?.fields ?? []) {
      if (applied.has(field)) continue;
      const ownedElsewhere = [...owners].some(([entry, owned]) => entry !== mine && owned.fields.has(field));
      if (!ownedElsewhere) deletePath(next, JSON.parse(field) as Path);
    }
    for (const [, path] of applied) setPath(next, path, clone(getPath(config, path)));
    if (config.metadata.resourceVersion) next.metadata.resourceVersion = config.metadata.resourceVersion;
    return { created: false, object: this.update(rt, version, current, next, sub, options, applied) };
  }

  /**
   * The API server's client-side → server-side apply upgrade: `kubectl apply
   * --server-side` (manager "kubectl") may take over, without --force-conflicts,
   * fields that conflict only because they are in the object's
   * last-applied-configuration annotation (kubectl's client-side apply set them).
   */
  upgradesClientSideApply(current: Obj, manager: string, conflicts: { field: string }[]): boolean {
    const lastApplied = current.metadata.annotations?.['kubectl.kubernetes.io/last-applied-configuration'];
    if (manager !== 'kubectl' || typeof lastApplied !== 'string') return false;
    try {
      const fields = leaves(JSON.parse(lastApplied) as Obj);
      return conflicts.every((c) => fields.has(c.field));
    } catch {
      return false;
    }
  }

  /**
   * Field ownership after a write. Apply: the manager owns exactly what it
   * applied (force has taken those fields from others). Anything else: the
   * manager takes every leaf it changed; removed leaves belong to nobody.
   */
  recordOwnership(rt: ResourceType, before: Obj | undefined, after: Obj, manager: string, applied?: Map<string, Path>): void {
    const key = this.key(rt, after.metadata.namespace, after.metadata.name);
    const owners = this.owners.get(key) ?? new Map<string, FieldOwner>();
    this.owners.set(key, owners);
    const now = leaves(after);
    const then = before ? leaves(before) : new Map<string, Path>();
    const changed = [...now].filter(([k, p]) => !then.has(k) || !deepEqual(getPath(before, p), getPath(after, p))).map(([k]) => k);
    const taken = new Set(applied ? [...applied.keys()].filter((k) => changed.includes(k)) : changed);
    const mine = ownerKey(applied ? 'Apply' : 'Update', manager);
    for (const [entry, owned] of owners) {
      for (const field of owned.fields) if (!now.has(field) || (entry !== mine && taken.has(field))) owned.fields.delete(field);
      if (owned.fields.size === 0) owners.delete(entry);
    }
    if (applied) owners.set(mine, { manager, operation: 'Apply', fields: new Set([...applied.keys()].filter((k) => now.has(k))) });
    else if (changed.length > 0) {
      const fields = owners.get(mine)?.fields ?? new Set<string>();
      for (const k of changed) fields.add(k);
      owners.set(mine, { manager, operation: 'Update', fields });
    }
  }

  // ----- deletion -----

  /** Still held by finalizers, or (namespaces, CRDs) by contents their controller has yet to delete. */
  blocked(rt: ResourceType, obj: Obj): boolean {
    if ((obj.metadata.finalizers ?? []).length > 0) return true;
    if (typeKey(rt) === NAMESPACE_TYPE_KEY) return this.contents(obj.metadata.name).length > 0;
    if (typeKey(rt) === CRD_TYPE_KEY) return this.instances(obj).length > 0;
    return false;
  }

  removable(rt: ResourceType, obj: Obj): boolean {
    return Boolean(obj.metadata.deletionTimestamp) && !this.blocked(rt, obj);
  }

  contents(namespace: string): { rt: ResourceType; obj: Obj }[] {
    return [...this.types.values()].filter((rt) => rt.namespaced).flatMap((rt) => this.objectsOf(rt, namespace).map((obj) => ({ rt, obj })));
  }

  instances(crd: Obj): Obj[] {
    const rt = [...this.types.values()].find((t) => t.crd === crd.metadata.name);
    return rt ? this.objectsOf(rt) : [];
  }

  /**
   * DELETE: an object held by finalizers (and every namespace and CRD, whose
   * contents go first) gets a deletionTimestamp and stays; anything else goes
   * at once. Built-ins answer with a Success Status, custom resources and
   * objects that stay with the object, as the API server does.
   */
  delete(rt: ResourceType, version: string, obj: Obj, options: { dryRun: boolean; preconditions?: Obj }): Obj {
    const name = obj.metadata.name;
    const pre = options.preconditions ?? {};
    if (pre.uid && pre.uid !== obj.metadata.uid) {
      throw new ApiError(409, `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${obj.metadata.uid}`, 'Conflict', details(rt, name));
    }
    if (pre.resourceVersion && pre.resourceVersion !== obj.metadata.resourceVersion) {
      throw new ApiError(
        409,
        `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in object meta: ${obj.metadata.resourceVersion}`,
        'Conflict',
        details(rt, name),
      );
    }
    const deferred = (obj.metadata.finalizers ?? []).length > 0 || typeKey(rt) === NAMESPACE_TYPE_KEY || typeKey(rt) === CRD_TYPE_KEY;
    if (options.dryRun) return this.present(rt, version, obj);
    if (obj.metadata.deletionTimestamp) return this.present(rt, version, obj);
    if (deferred) {
      const next = clone(obj);
      next.metadata.deletionTimestamp = now();
      next.metadata.deletionGracePeriodSeconds = 0;
      if (typeKey(rt) === NAMESPACE_TYPE_KEY) next.status = { ...next.status, phase: 'Terminating' };
      next.metadata.resourceVersion = this.nextRv();
      this.commit(rt, 'MODIFIED', next, obj);
      return this.present(rt, version, next);
    }
    const removed = this.remove(rt, obj);
    if (rt.crd) return this.present(rt, version, removed);
    return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', details: details(rt, name, { uid: obj.metadata.uid }) };
  }

  remove(rt: ResourceType, obj: Obj): Obj {
    const gone = clone(obj);
    gone.metadata.resourceVersion = this.nextRv();
    this.commit(rt, 'DELETED', gone);
    return gone;
  }

  // ----- controllers: namespace and CRD cleanup, garbage collection -----

  scheduleControllers(): void {
    if (this.#controllersScheduled || this.closed) return;
    this.#controllersScheduled = true;
    setImmediate(() => {
      this.#controllersScheduled = false;
      if (!this.closed) this.runControllers();
    });
  }

  /** One pass; any change it makes commits, which schedules another pass, until nothing is left to do. */
  runControllers(): void {
    const namespaces = this.types.get(NAMESPACE_TYPE_KEY)!;
    const crds = this.types.get(CRD_TYPE_KEY)!;
    const startDeleting = (rt: ResourceType, obj: Obj) => {
      if (!obj.metadata.deletionTimestamp) this.delete(rt, rt.storageVersion, obj, { dryRun: false });
    };
    for (const ns of this.objectsOf(namespaces).filter((n) => n.metadata.deletionTimestamp)) {
      for (const { rt, obj } of this.contents(ns.metadata.name)) startDeleting(rt, obj);
      const latest = this.get(namespaces, undefined, ns.metadata.name);
      if (latest && this.removable(namespaces, latest)) this.remove(namespaces, latest);
    }
    for (const crd of this.objectsOf(crds).filter((c) => c.metadata.deletionTimestamp)) {
      const rt = [...this.types.values()].find((t) => t.crd === crd.metadata.name);
      for (const obj of this.instances(crd)) startDeleting(rt!, obj);
      const latest = this.get(crds, undefined, crd.metadata.name);
      if (latest && this.removable(crds, latest)) this.remove(crds, latest);
    }
    // Garbage collection: dependents all of whose owners are gone (or never existed).
    for (const rt of [...this.types.values()]) {
      for (const obj of this.objectsOf(rt)) {
        const refs: Obj[] = obj.metadata.ownerReferences ?? [];
        if (refs.length === 0 || obj.metadata.deletionTimestamp) continue;
        if (refs.every((ref) => !this.uids.has(ref.uid))) startDeleting(rt, obj);
      }
    }
  }
}

function applyConflict(rt: ResourceType, name: string, conflicts: { manager: string; field: string }[]): ApiError {
  const field = (f: string) => `.${(JSON.parse(f) as Path).join('.')}`;
  const lines = conflicts.map((c) => `conflict with "${c.manager}": ${field(c.field)}`);
  const message = conflicts.length === 1 ? `Apply failed with 1 conflict: ${lines[0]}` : `Apply failed with ${conflicts.length} conflicts: ${lines.join('\n')}`;
  return new ApiError(
    409,
    message,
    'Conflict',
    details(rt, name, { causes: conflicts.map((c) => ({ reason: 'FieldManagerConflict', message: `conflict with "${c.manager}"`, field: field(c.field) })) }),
  );
}

function dedupe<T>(items: T[]): T[] {
  const seen = new Set<string>();
  return items.filter((i) => !seen.has(JSON.stringify(i)) && seen.add(JSON.stringify(i)));
}

// ---------------------------------------------------------------------------
// Discovery and OpenAPI documents
// ---------------------------------------------------------------------------

function groups(cluster: Cluster): Map<string, string[]> {
  const byGroup = new Map<string, Set<string>>();
  for (const rt of cluster.types.values()) {
    if (!rt.group) continue;
    const versions = byGroup.get(rt.group) ?? new Set<string>();
    for (const v of rt.versions) versions.add(v.name);
    byGroup.set(rt.group, versions);
  }
  return new Map([...byGroup].map(([g, vs]) => [g, [...vs].sort(versionPriority)]));
}

function apiGroup(name: string, versions: string[]): Obj {
  const list = versions.map((version) => ({ groupVersion: `${name}/${version}`, version }));
  return { name, versions: list, preferredVersion: list[0] };
}

function resourceList(cluster: Cluster, group: string, version: string): Obj {
  const resources: Obj[] = [];
  for (const rt of cluster.types.values()) {
    if (rt.group !== group || !versionInfo(rt, version)) continue;
    resources.push({
      name: rt.plural,
      singularName: rt.singular,
      namespaced: rt.namespaced,
      kind: rt.kind,
      verbs: VERBS,
      ...(rt.shortNames.length ? { shortNames: rt.shortNames } : {}),
      ...(rt.categories.length ? { categories: rt.categories } : {}),
    });
    if (hasStatus(rt, version))
      resources.push({ name: `${rt.plural}/status`, singularName: '', namespaced: rt.namespaced, kind: rt.kind, verbs: ['get', 'patch', 'update'] });
  }
  return { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: groupVersion(group, version), resources };
}

/** Every group-version served, as `/openapi/v3` names them (`api/v1`, `apis/apps/v1`). */
function openApiPaths(cluster: Cluster): string[] {
  return ['api/v1', ...[...groups(cluster)].flatMap(([g, vs]) => vs.map((v) => `apis/${g}/${v}`))];
}

/** The minimal OpenAPI v3 document kubectl reads: which kinds accept which patches and the fieldValidation parameter. */
function openApiDocument(cluster: Cluster, group: string, version: string): Obj {
  const paths: Obj = {};
  for (const rt of cluster.types.values()) {
    if (rt.group !== group || !versionInfo(rt, version)) continue;
    const base = `/${group ? `apis/${group}` : 'api'}/${version}${rt.namespaced ? '/namespaces/{namespace}' : ''}/${rt.plural}/{name}`;
    const content = [
      'application/json-patch+json',
      'application/merge-patch+json',
      'application/apply-patch+yaml',
      ...(rt.crd ? [] : ['application/strategic-merge-patch+json']),
    ];
    paths[base] = {
      patch: {
        operationId: `patch${rt.kind}`,
        'x-kubernetes-action': 'patch',
        'x-kubernetes-group-version-kind': { group, version, kind: rt.kind },
        parameters: ['dryRun', 'fieldManager', 'fieldValidation', 'force'].map((name) => ({
          name,
          in: 'query',
          schema: { type: name === 'force' ? 'boolean' : 'string', uniqueItems: true },
        })),
        requestBody: { content: Object.fromEntries(content.map((c) => [c, { schema: { type: 'object' } }])), required: true },
        responses: { '200': { description: 'OK' } },
      },
    };
  }
  return { openapi: '3.0.0', info: { title: 'Kubernetes', version: 'v1.32.0' }, paths, components: { schemas: {} } };
}

// ---------------------------------------------------------------------------
// TLS: kubectl sends no credentials over plain HTTP, so the kubeconfig says https
// ---------------------------------------------------------------------------

/** One DER TLV. */
function der(tag: number, ...parts: Buffer[]): Buffer {
  const body = Buffer.concat(parts);
  const length: number[] = [];
  for (let n = body.length; n > 0; n >>= 8) length.unshift(n & 0xff);
  return Buffer.concat([Buffer.from([tag]), Buffer.from(body.length < 0x80 ? [body.length] : [0x80 | length.length, ...length]), body]);
}

function derOid(oid: string): Buffer {
  const [a, b, ...rest] = oid.split('.').map(Number);
  const bytes = [a! * 40 + b!];
  for (const v of rest) {
    const encoded = [v & 0x7f];
    for (let x = v >> 7; x > 0; x >>= 7) encoded.unshift(0x80 | (x & 0x7f));
    bytes.push(...encoded);
  }
  return der(0x06, Buffer.from(bytes));
}

/**
 * A throwaway self-signed certificate for 127.0.0.1/localhost (ECDSA P-256),
 * built with node:crypto alone — Node can sign but not issue certificates, so
 * the X.509 structure is written out here. Clients skip verification
 * (`insecure-skip-tls-verify`), but Go and OpenSSL still parse it strictly.
 */
function selfSignedCertificate(): { key: string; cert: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const seq = (...parts: Buffer[]) => der(0x30, ...parts);
  const utcTime = (d: Date) => der(0x17, Buffer.from(`${d.toISOString().replace(/[-:T]/g, '').slice(2, 14)}Z`));
  const ecdsaWithSha256 = seq(derOid('1.2.840.10045.4.3.2'));
  const name = seq(der(0x31, seq(derOid('2.5.4.3'), der(0x0c, Buffer.from('kube-api-stand-in')))));
  const serial = der(0x02, Buffer.concat([Buffer.from([0x01]), randomBytes(8)]));
  const subjectAltName = seq(derOid('2.5.29.17'), der(0x04, seq(der(0x87, Buffer.from([127, 0, 0, 1])), der(0x82, Buffer.from('localhost')))));
  const tbs = seq(
    der(0xa0, der(0x02, Buffer.from([2]))), // v3
    serial,
    ecdsaWithSha256,
    name,
    seq(utcTime(new Date(Date.now() - 3_600_000)), utcTime(new Date(Date.now() + 365 * 86_400_000))),
    name,
    publicKey.export({ type: 'spki', format: 'der' }),
    der(0xa3, seq(subjectAltName)),
  );
  const certificate = seq(tbs, ecdsaWithSha256, der(0x03, Buffer.concat([Buffer.from([0]), sign('sha256', tbs, privateKey)])));
  const pem = `-----BEGIN CERTIFICATE-----\n${certificate.toString('base64').replace(/.{64}/g, '$&\n').replace(/\n$/, '')}\n-----END CERTIFICATE-----\n`;
  return { key: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, cert: pem };
}

// ---------------------------------------------------------------------------
// The HTTP server
// ---------------------------------------------------------------------------

interface Answer {
  status: number;
  body: unknown;
  headers?: Record<string, string | string[]>;
}

interface Target {
  rt: ResourceType;
  version: string;
  namespace?: string;
  name?: string;
  sub?: string;
}

const OPEN_PATHS = new Set(['/version', '/healthz', '/livez', '/readyz']);

function parseBody(raw: string, contentType: string): unknown {
  if (raw.trim() === '') return undefined;
  if (/protobuf/.test(contentType))
    throw new ApiError(
      415,
      `the body of the request was in an unknown format - accepted media types include: application/json, application/yaml`,
      'UnsupportedMediaType',
    );
  try {
    return /yaml/.test(contentType) ? loadYaml(raw) : JSON.parse(raw);
  } catch (err) {
    throw new ApiError(400, `the body of the request could not be decoded: ${(err as Error).message}`, 'BadRequest');
  }
}

export async function startKubeApiStandIn(): Promise<KubeApiStandIn> {
  const token = `stand-in-${randomUUID()}`;
  const cluster = new Cluster();
  const requests: RequestRecord[] = [];
  const failures: { method?: string; pathIncludes?: string; status: number; count: number; reason?: string }[] = [];
  const streams = new Set<ServerResponse>();

  // The namespaces every cluster starts with.
  const namespaces = cluster.types.get(NAMESPACE_TYPE_KEY)!;
  for (const name of ['default', 'kube-system']) {
    cluster.create(namespaces, 'v1', undefined, { metadata: { name } }, { dryRun: false, manager: 'kube-apiserver', fieldValidation: 'Ignore', warnings: [] });
  }

  function writeOptions(req: IncomingMessage, query: URLSearchParams): WriteOptions {
    const agent = String(req.headers['user-agent'] ?? '').split('/')[0];
    return {
      dryRun: query.getAll('dryRun').includes('All'),
      manager: query.get('fieldManager') || agent || 'unknown',
      fieldValidation: query.get('fieldValidation') || 'Warn',
      warnings: [],
    };
  }

  /** `/api/v1/...` or `/apis/{group}/{version}/...` after the version: which resource, namespace, name, subresource. */
  function resolve(group: string, version: string, segments: string[]): Target {
    let rest = segments;
    let namespace: string | undefined;
    if (rest[0] === 'namespaces' && rest.length >= 3 && !(rest.length === 3 && group === '' && (rest[2] === 'status' || rest[2] === 'finalize'))) {
      namespace = rest[1];
      rest = rest.slice(2);
    }
    const [plural, name, sub, ...extra] = rest;
    const missing = new ApiError(404, 'the server could not find the requested resource', 'NotFound');
    const rt = plural === undefined ? undefined : cluster.typeFor(group, version, plural);
    if (!rt || extra.length > 0) throw missing;
    if (namespace !== undefined && !rt.namespaced) throw missing;
    if (rt.namespaced && name !== undefined && namespace === undefined) throw missing;
    if (sub !== undefined && !(sub === 'status' && hasStatus(rt, version))) throw missing;
    return { rt, version, namespace, name, sub };
  }

  function list(target: Target, query: URLSearchParams, accept: string | undefined): Answer {
    const { rt, version, namespace } = target;
    const selector = parseSelector(query);
    let items = cluster.objectsOf(rt, namespace).filter((o) => matches(selector, o));
    const metadata: Obj = { resourceVersion: String(cluster.rv) };
    // limit/continue: the token is where the previous page stopped.
    const after = query.get('continue');
    if (after) {
      let start: string;
      try {
        start = JSON.parse(Buffer.from(after, 'base64url').toString('utf8')).start;
      } catch {
        throw new ApiError(400, 'continue key is not valid', 'BadRequest');
      }
      items = items.filter((o) => cluster.key(rt, o.metadata.namespace, o.metadata.name) > start);
    }
    const limit = Number(query.get('limit') ?? 0);
    if (limit > 0 && items.length > limit) {
      const last = items[limit - 1]!;
      metadata.continue = Buffer.from(JSON.stringify({ start: cluster.key(rt, last.metadata.namespace, last.metadata.name) })).toString('base64url');
      metadata.remainingItemCount = items.length - limit;
      items = items.slice(0, limit);
    }
    const presented = items.map((o) => cluster.present(rt, version, o));
    if (wantsTable(accept))
      return {
        status: 200,
        body: toTable(rt, version, presented, query.get('includeObject') ?? 'Metadata', metadata),
        headers: { 'content-type': 'application/json;as=Table;v=v1;g=meta.k8s.io' },
      };
    return { status: 200, body: { kind: rt.listKind, apiVersion: groupVersion(rt.group, version), metadata, items: presented } };
  }

  /** Streams watch events until the client goes, the timeout passes, or the server ends the stream. */
  function watch(target: Target, query: URLSearchParams, accept: string | undefined, res: ServerResponse, record: RequestRecord): void {
    const { rt, version, namespace } = target;
    const selector = parseSelector(query, target.name);
    const from = query.get('resourceVersion') ?? '';
    if (from !== '' && !/^\d+$/.test(from)) throw new ApiError(400, `resourceVersion: Invalid value: "${from}": must be a number`, 'BadRequest');
    const bookmarks = query.get('allowWatchBookmarks') === 'true';
    const asTable = wantsTable(accept);
    record.status = 200;
    res.writeHead(200, {
      'content-type': asTable ? 'application/json;as=Table;v=v1;g=meta.k8s.io' : 'application/json',
      'cache-control': 'no-cache, private',
      'transfer-encoding': 'chunked',
    });
    res.flushHeaders();
    streams.add(res);
    const timers: NodeJS.Timeout[] = [];
    const watcher: Watcher = {
      typeKey: typeKey(rt),
      rt,
      version,
      namespace,
      selector,
      asTable,
      includeObject: query.get('includeObject') ?? 'Metadata',
      send: (event) => {
        if (!res.writableEnded && !res.destroyed) res.write(`${JSON.stringify(event)}\n`);
      },
      end: () => {
        for (const t of timers) clearTimeout(t);
        cluster.watchers.delete(watcher);
        streams.delete(res);
        if (!res.writableEnded) res.end();
      },
    };
    const bookmark = (annotations?: Obj) =>
      watcher.send({
        type: 'BOOKMARK',
        object: {
          kind: rt.kind,
          apiVersion: groupVersion(rt.group, version),
          metadata: { resourceVersion: String(cluster.rv), ...(annotations ? { annotations } : {}) },
        },
      });
    res.on('close', watcher.end);
    const initial = query.get('sendInitialEvents') === 'true';
    if (initial || from === '' || from === '0') {
      // No resourceVersion (or "0"): the current state as synthetic ADDED events, then changes.
      for (const obj of cluster.objectsOf(rt, namespace))
        if (matches(selector, obj)) watcher.send({ type: 'ADDED', object: cluster.watchObject(watcher, obj) });
      if (initial) bookmark({ 'k8s.io/initial-events-end': 'true' });
    } else {
      const since = Number(from);
      if (since < cluster.compactedRv) {
        const gone = new ApiError(410, `too old resource version: ${since} (${cluster.compactedRv})`, 'Expired');
        watcher.send({ type: 'ERROR', object: gone.status() });
        watcher.end();
        return;
      }
      for (const event of cluster.history) if (event.rv > since) cluster.deliver(watcher, event);
    }
    if (bookmarks) {
      bookmark();
      const interval = setInterval(() => bookmark(), 1_000);
      timers.push(interval);
    }
    const timeout = Number(query.get('timeoutSeconds') ?? 0);
    if (timeout > 0) timers.push(setTimeout(watcher.end, timeout * 1_000));
    cluster.watchers.add(watcher);
  }

  function patch(target: Target, body: unknown, contentType: string, query: URLSearchParams, options: WriteOptions): Answer {
    const { rt, version, namespace, name, sub } = target;
    const type = contentType.split(';')[0]!.trim();
    if (type === 'application/apply-patch+yaml') {
      if (!query.get('fieldManager'))
        throw new ApiError(400, 'PATCH, application/apply-patch+yaml requires a non-empty fieldManager query parameter', 'BadRequest');
      const force = query.get('force') === 'true';
      const { created, object } = cluster.apply(rt, version, namespace, name!, sub, body, force, options);
      return { status: created ? 201 : 200, body: object };
    }
    if (query.get('force') !== null) throw new ApiError(400, 'force: Invalid value: force flag must be unset for non-apply patch requests', 'BadRequest');
    const current = cluster.require(rt, namespace, name!);
    const fail = (message: string) => new ApiError(422, message, 'Invalid', details(rt, name!));
    let patched: unknown;
    if (type === 'application/merge-patch+json') {
      patched = mergePatch(clone(current), body);
    } else if (type === 'application/json-patch+json') {
      patched = jsonPatch(cluster.present(rt, version, current), body, fail);
    } else if (type === 'application/strategic-merge-patch+json') {
      if (rt.crd)
        throw new ApiError(
          415,
          'the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml',
          'UnsupportedMediaType',
        );
      patched = strategicMerge(clone(current), body);
    } else {
      throw new ApiError(
        415,
        `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json`,
        'UnsupportedMediaType',
      );
    }
    if (!isObject(patched)) throw fail('the patched document is not an object');
    const candidate = cluster.incoming(rt, version, { ...patched, apiVersion: groupVersion(rt.group, version), kind: rt.kind }, namespace, name);
    return { status: 200, body: cluster.update(rt, version, current, candidate, sub, options) };
  }

  function resource(
    req: IncomingMessage,
    res: ServerResponse,
    record: RequestRecord,
    target: Target,
    query: URLSearchParams,
    body: unknown,
  ): Answer | undefined {
    const { rt, version, namespace, name, sub } = target;
    const method = record.method;
    const accept = req.headers.accept;
    const options = writeOptions(req, query);
    const isWatch = query.get('watch') === 'true' || query.get('watch') === '1';
    const answer = (status: number, result: unknown): Answer => ({ status, body: result, headers: warningHeader(options.warnings) });
    if (method === 'GET') {
      if (isWatch) return void watch(target, query, accept, res, record);
      if (name === undefined) return list(target, query, accept);
      const obj = cluster.present(rt, version, cluster.require(rt, namespace, name));
      if (wantsTable(accept))
        return {
          status: 200,
          body: toTable(rt, version, [obj], query.get('includeObject') ?? 'Metadata', { resourceVersion: obj.metadata.resourceVersion }),
          headers: { 'content-type': 'application/json;as=Table;v=v1;g=meta.k8s.io' },
        };
      return answer(200, obj);
    }
    if (method === 'POST' && name === undefined) return answer(201, cluster.create(rt, version, namespace, body, options));
    if (method === 'PUT' && name !== undefined) {
      const current = cluster.require(rt, namespace, name);
      return answer(200, cluster.update(rt, version, current, cluster.incoming(rt, version, body, namespace, name), sub, options));
    }
    if (method === 'PATCH' && name !== undefined) {
      const result = patch(target, body, String(req.headers['content-type'] ?? ''), query, options);
      return { ...result, headers: warningHeader(options.warnings) };
    }
    if (method === 'DELETE' && sub === undefined) {
      const deleteOptions: Obj = isObject(body) ? body : {};
      const dryRun = options.dryRun || (Array.isArray(deleteOptions.dryRun) && deleteOptions.dryRun.includes('All'));
      if (name !== undefined)
        return answer(200, cluster.delete(rt, version, cluster.require(rt, namespace, name), { dryRun, preconditions: deleteOptions.preconditions }));
      // deletecollection
      const selector = parseSelector(query);
      const doomed = cluster.objectsOf(rt, namespace).filter((o) => matches(selector, o));
      for (const o of doomed) cluster.delete(rt, version, o, { dryRun });
      return answer(200, {
        kind: rt.listKind,
        apiVersion: groupVersion(rt.group, version),
        metadata: { resourceVersion: String(cluster.rv) },
        items: doomed.map((o) => cluster.present(rt, version, o)),
      });
    }
    throw new ApiError(405, `the server does not allow this method on the requested resource`, 'MethodNotAllowed');
  }

  function route(req: IncomingMessage, res: ServerResponse, record: RequestRecord, url: URL, body: unknown): Answer | undefined {
    const segments = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    const query = url.searchParams;
    const path = url.pathname.replace(/\/+$/, '') || '/';
    if (path === '/api')
      return {
        status: 200,
        body: { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: url.host }] },
      };
    if (path === '/apis') {
      // Legacy discovery even when aggregated discovery (as=APIGroupDiscoveryList) is asked for: the plain
      // application/json content type tells kubectl to fall back to per-group-version documents.
      return { status: 200, body: { kind: 'APIGroupList', apiVersion: 'v1', groups: [...groups(cluster)].map(([g, vs]) => apiGroup(g, vs)) } };
    }
    if (path === '/openapi/v3') {
      return {
        status: 200,
        body: { paths: Object.fromEntries(openApiPaths(cluster).map((p) => [p, { serverRelativeURL: `/openapi/v3/${p}?hash=${cluster.rv}` }])) },
      };
    }
    if (path.startsWith('/openapi/v3/')) {
      const [kind, ...gv] = segments.slice(2);
      const [group, version] = kind === 'api' ? ['', gv[0]] : [gv[0], gv[1]];
      if (!version || !openApiPaths(cluster).includes(segments.slice(2).join('/')))
        throw new ApiError(404, 'the server could not find the requested resource', 'NotFound');
      return { status: 200, body: openApiDocument(cluster, group!, version) };
    }
    if (segments[0] === 'api' && segments[1] === 'v1') {
      if (segments.length === 2) return { status: 200, body: resourceList(cluster, '', 'v1') };
      return legacyWatch(segments.slice(2), (rest) => resource(req, res, record, resolve('', 'v1', rest), query, body), query);
    }
    if (segments[0] === 'apis' && segments.length >= 2) {
      const group = segments[1]!;
      const versions = groups(cluster).get(group);
      if (!versions) throw new ApiError(404, 'the server could not find the requested resource', 'NotFound');
      if (segments.length === 2) return { status: 200, body: { kind: 'APIGroup', apiVersion: 'v1', ...apiGroup(group, versions) } };
      const version = segments[2]!;
      if (!versions.includes(version)) throw new ApiError(404, 'the server could not find the requested resource', 'NotFound');
      if (segments.length === 3) return { status: 200, body: resourceList(cluster, group, version) };
      return legacyWatch(segments.slice(3), (rest) => resource(req, res, record, resolve(group, version, rest), query, body), query);
    }
    throw new ApiError(404, 'the server could not find the requested resource', 'NotFound');
  }

  /** The deprecated `/watch/` path prefix means `?watch=true`. */
  function legacyWatch(rest: string[], handle: (rest: string[]) => Answer | undefined, query: URLSearchParams): Answer | undefined {
    if (rest[0] !== 'watch') return handle(rest);
    query.set('watch', 'true');
    return handle(rest.slice(1));
  }

  function injectedFailure(method: string, url: URL): ApiError | undefined {
    const target = url.pathname + url.search;
    const failure = failures.find(
      (f) => f.count > 0 && (!f.method || f.method.toUpperCase() === method) && (!f.pathIncludes || target.includes(f.pathIncludes)),
    );
    if (!failure) return undefined;
    failure.count--;
    const reason = failure.reason ?? REASONS[failure.status] ?? 'Unknown';
    const retry = failure.status === 429 ? { 'retry-after': '1' } : undefined;
    return new ApiError(
      failure.status,
      `injected failure: the stand-in was told to answer ${failure.status} ${reason}`,
      reason,
      retry ? { retryAfterSeconds: 1 } : undefined,
      retry,
    );
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', `http://${req.headers.host ?? '127.0.0.1'}`);
    const method = (req.method ?? 'GET').toUpperCase();
    const contentType = req.headers['content-type'];
    const record: RequestRecord = { method, path: url.pathname, query: url.search.slice(1), ...(contentType ? { contentType } : {}), status: 0 };
    requests.push(record);
    const send = (answer: Answer) => {
      record.status = answer.status;
      res.writeHead(answer.status, { 'content-type': 'application/json', ...answer.headers });
      res.end(JSON.stringify(answer.body));
    };
    try {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      const raw = Buffer.concat(chunks).toString('utf8');
      if (OPEN_PATHS.has(url.pathname)) {
        if (url.pathname === '/version') {
          return send({
            status: 200,
            body: {
              major: '1',
              minor: '32',
              gitVersion: 'v1.32.0-stand-in',
              gitCommit: 'stand-in',
              gitTreeState: 'clean',
              buildDate: '2025-01-01T00:00:00Z',
              goVersion: 'go1.23',
              compiler: 'gc',
              platform: `${process.platform}/${process.arch}`,
            },
          });
        }
        record.status = 200;
        res.writeHead(200, { 'content-type': 'text/plain' });
        return void res.end('ok');
      }
      if (req.headers.authorization !== `Bearer ${token}`) throw new ApiError(401, 'Unauthorized', 'Unauthorized');
      const failure = injectedFailure(method, url);
      if (failure) throw failure;
      const body = parseBody(raw, String(contentType ?? 'application/json'));
      const answer = route(req, res, record, url, body);
      if (answer) send(answer);
    } catch (err) {
      if (res.headersSent) return void res.end();
      const apiError = err instanceof ApiError ? err : new ApiError(500, `stand-in error: ${(err as Error)?.stack ?? String(err)}`, 'InternalError');
      send({ status: apiError.code, body: apiError.status(), headers: apiError.headers });
    }
  }

  // One port, two protocols: a TLS ClientHello starts with 0x16, anything else is plain HTTP.
  const onRequest = (req: IncomingMessage, res: ServerResponse) => void handle(req, res).catch(() => res.destroy());
  const plain = createServer(onRequest);
  const secure = createSecureServer(selfSignedCertificate(), onRequest);
  const sockets = new Set<Socket>();
  const front = createNetServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    const sniff = () => {
      const first = socket.read(1) as Buffer | null;
      if (first === null) return void socket.once('readable', sniff);
      socket.unshift(first);
      (first[0] === 0x16 ? secure : plain).emit('connection', socket);
    };
    sniff();
  });
  await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', resolve));
  const { port } = front.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;

  const dir = mkdtempSync(join(tmpdir(), 'kube-api-stand-in-'));
  const kubeconfigPath = join(dir, 'kubeconfig');
  writeFileSync(
    kubeconfigPath,
    dumpYaml({
      apiVersion: 'v1',
      kind: 'Config',
      preferences: {},
      // https: kubectl (client-go) sends no bearer token to an http:// server (kubernetes/kubectl#744).
      clusters: [{ name: 'stand-in', cluster: { server: `https://127.0.0.1:${port}`, 'insecure-skip-tls-verify': true } }],
      users: [{ name: 'stand-in', user: { token } }],
      contexts: [{ name: 'stand-in', context: { cluster: 'stand-in', user: 'stand-in', namespace: 'default' } }],
      'current-context': 'stand-in',
    }),
  );

  let closing: Promise<void> | undefined;
  const endWatches = () => {
    for (const watcher of [...cluster.watchers]) watcher.end();
    for (const res of [...streams]) if (!res.writableEnded) res.end();
  };

  return {
    url,
    kubeconfigPath,
    token,
    requests,
    failNext({ method, pathIncludes, status, count = 1, reason }) {
      failures.push({ method, pathIncludes, status, count, reason });
    },
    clearFailures() {
      failures.length = 0;
    },
    compact() {
      cluster.history.length = 0;
      cluster.compactedRv = cluster.rv;
    },
    closeWatches: endWatches,
    objects(apiVersion, kind) {
      const [group, version] = apiVersion?.includes('/') ? apiVersion.split('/') : ['', apiVersion];
      const types = [...cluster.types.values()].filter(
        (rt) => (!apiVersion || (rt.group === group && versionInfo(rt, version!))) && (!kind || rt.kind === kind),
      );
      return types.flatMap((rt) => cluster.objectsOf(rt).map((o) => (apiVersion ? cluster.present(rt, version!, o) : clone(o))));
    },
    get(apiVersion, kind, name, namespace) {
      const rt = cluster.typeByKind(apiVersion, kind);
      const obj = rt && cluster.get(rt, namespace, name);
      return rt && obj ? cluster.present(rt, apiVersion.split('/').pop()!, obj) : undefined;
    },
    close() {
      closing ??= (async () => {
        cluster.closed = true;
        endWatches();
        await new Promise<void>((resolve) => {
          front.close(() => resolve());
          for (const socket of sockets) socket.destroy();
        });
        rmSync(dir, { recursive: true, force: true });
      })();
      return closing;
    },
  };
}

function warningHeader(warnings: string[]): Record<string, string[]> {
  // One header line per warning, in the RFC 7234 form the API server uses (kubectl prints them).
  return warnings.length > 0 ? { warning: warnings.map((w) => `299 - ${JSON.stringify(w)}`) } : {};
}
