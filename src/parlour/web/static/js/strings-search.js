// The search filters' texts, in Simplified Chinese and English, added to the page's table.
import { STRINGS } from "./i18n.js";

Object.assign(STRINGS.zh, {
  searchFilters: "筛选",
  searchFiltersOn: "筛选 · {n}",
  searchPersona: "角色",
  searchModel: "模型",
  searchFrom: "从",
  searchTo: "到",
  searchState: "对话",
  searchAnyPersona: "任意角色",
  searchAnyModel: "任意模型",
  searchState_all: "全部",
  searchState_pinned: "仅置顶",
  searchState_archived: "仅已归档",
  searchState_unarchived: "不含已归档",
  searchClearFilters: "清除筛选",
});

Object.assign(STRINGS.en, {
  searchFilters: "Filters",
  searchFiltersOn: "Filters · {n}",
  searchPersona: "Persona",
  searchModel: "Model",
  searchFrom: "From",
  searchTo: "To",
  searchState: "Conversations",
  searchAnyPersona: "Any persona",
  searchAnyModel: "Any model",
  searchState_all: "All",
  searchState_pinned: "Pinned only",
  searchState_archived: "Archived only",
  searchState_unarchived: "Not archived",
  searchClearFilters: "Clear filters",
});
