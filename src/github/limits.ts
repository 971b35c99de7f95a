// GitHub's limits for check runs (REST "checks" docs; also maxLength/maxItems
// in GitHub's OpenAPI description). Exceeding them makes the request fail,
// so every output is fitted before it is sent.
export const CHECK_TEXT_MAX = 65_535; // summary and text, each
export const CHECK_TITLE_MAX = 255; // kept short anyway
export const ANNOTATIONS_PER_REQUEST = 50;
export const ANNOTATION_MESSAGE_MAX = 64 * 1024;
export const ACTIONS_MAX = 3;
export const ACTION_LABEL_MAX = 20;
export const ACTION_DESCRIPTION_MAX = 40;
export const ACTION_IDENTIFIER_MAX = 20;

export const PLAN_CHECK = 'fleetkeeper / plan';
export const APPLY_CHECK = 'fleetkeeper / apply';
export const BAKE_CHECK = 'fleetkeeper / bake';
export const RETRY_ACTION = { label: 'Retry failed', identifier: 'retry-failed', description: 'Apply again to the hosts that failed' } as const;
