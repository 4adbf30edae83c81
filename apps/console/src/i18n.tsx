import { createContext, type ReactNode, useContext } from 'react';

/** The console's strings in English; an environment's translations (SPEC §5) override them by key. */
export const DEFAULT_STRINGS = {
  'nav.schedules': 'Schedules',
  'nav.deliveries': 'Deliveries',
  'nav.dead_letters': 'Dead letters',
  'nav.keys': 'API keys',
  'nav.webhooks': 'Webhooks',
  'nav.config': 'Configuration',
  'nav.clone': 'Clone from live',
  'nav.team': 'Team',
  'nav.slo': 'SLO',
  'banner.sandbox': 'Sandbox — UAT data. Vendor calls are mocked; nothing here touches live.',
  'banner.test': 'Test mode — engineering data. Vendor calls are mocked; nothing here touches live.',
  'login.title': 'Sign in to SchedStack',
  'login.submit': 'Sign in',
  'logout': 'Sign out',
} as const;

export type StringKey = keyof typeof DEFAULT_STRINGS;

export interface Branding {
  productName: string;
  logoUrl: string | null;
  primary: string | null;
  strings: Partial<Record<string, string>>;
}

export const DEFAULT_BRANDING: Branding = { productName: 'SchedStack', logoUrl: null, primary: null, strings: {} };

const BrandingContext = createContext<Branding>(DEFAULT_BRANDING);

export function BrandingProvider({ value, children }: { value: Branding; children: ReactNode }) {
  return <BrandingContext.Provider value={value}>{children}</BrandingContext.Provider>;
}

export function useBranding(): Branding {
  return useContext(BrandingContext);
}

/** `t('nav.schedules')`: the environment's translation when it has one, else the English default. */
export function useT(): (key: StringKey) => string {
  const { strings } = useBranding();
  return (key) => strings[key] ?? DEFAULT_STRINGS[key];
}
