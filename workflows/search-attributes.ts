// Search attributes the workflows set, so runs can be found and followed in the Temporal UI.
// temporal/ registers them on the server; their names and types are the contract.
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

export const STAGE = defineSearchAttributeKey('RewriteRlStage', SearchAttributeType.KEYWORD);
export const STEP = defineSearchAttributeKey('RewriteRlStep', SearchAttributeType.INT);
export const ARM = defineSearchAttributeKey('RewriteRlArm', SearchAttributeType.KEYWORD);
export const RECORDS = defineSearchAttributeKey('RewriteRlRecords', SearchAttributeType.INT);
export const METRIC = defineSearchAttributeKey('RewriteRlMetric', SearchAttributeType.DOUBLE);

export const ALL_SEARCH_ATTRIBUTES = [STAGE, STEP, ARM, RECORDS, METRIC];
