// Public API of the fleet concept: read, validate, compare and edit fleet repos.
export type * from './types.js';
export { loadFleet, loadFleetDraft, deepMerge, ID_PATTERN, PLACEHOLDER_PREFIX, type LoadOptions, type FleetDraft, type CustomerDraftRaw } from './load.js';
export { LocalDirSource } from './source-local.js';
export { MemorySource } from './source-memory.js';
export { diffFleets, touchesConnection, CONNECTION_FIELDS } from './diff.js';
export { formatError, formatGithubAnnotation } from './format.js';
export { setCustomerTag, setCustomerHostKey, setScalar, renderCustomerFile, type CustomerFileInput } from './edit.js';
export { parseDuration, formatDuration } from './duration.js';
export { checkDefinition, SCHEMA_DIR_URL } from './schemas.js';
export { MAX_FILE_BYTES } from './yaml-file.js';
