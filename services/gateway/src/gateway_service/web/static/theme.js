// Flatfile's space theme (`space.metadata.theme`) as CSS custom properties. Only values the
// browser accepts as colors / font families are applied; a logo must be an http(s) URL.

const COLORS = {
  root: { primaryColor: "--primary", actionColor: "--action", borderColor: "--border",
    backgroundColor: "--bg", textColor: "--text" },
  sidebar: { backgroundColor: "--sidebar-bg", textColor: "--sidebar-text", titleColor: "--sidebar-title",
    focusBgColor: "--sidebar-focus-bg", focusTextColor: "--sidebar-focus-text" },
};

export function applyTheme(theme, root = document.documentElement) {
  if (!theme || typeof theme !== "object") return {};
  for (const [section, names] of Object.entries(COLORS)) {
    const values = theme[section] || {};
    for (const [name, property] of Object.entries(names)) {
      const value = values[name];
      if (typeof value === "string" && CSS.supports("color", value)) root.style.setProperty(property, value);
    }
  }
  const font = theme.root && theme.root.fontFamily;
  if (typeof font === "string" && CSS.supports("font-family", font)) root.style.setProperty("--font", font);
  const logo = theme.sidebar && theme.sidebar.logo;
  return { logo: safeImageUrl(logo) };
}

export function safeImageUrl(value) {
  if (typeof value !== "string" || !value) return null;
  try {
    const url = new URL(/^[a-z]+:/i.test(value) || value.startsWith("/") ? value : `https://${value}`, window.location.origin);
    return url.protocol === "https:" || url.protocol === "http:" ? url.href : null;
  } catch {
    return null;
  }
}
