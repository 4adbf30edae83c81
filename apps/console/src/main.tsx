import { StrictMode, useEffect, useState } from 'react';
import { createRoot } from 'react-dom/client';
import { client, type Environment, type Session, sessionStore } from './api';
import { type Branding, BrandingProvider, DEFAULT_BRANDING, useBranding, useT } from './i18n';
import { ClonePage } from './pages/clone';
import { ConfigPage } from './pages/config';
import { DeadLettersPage } from './pages/dead-letters';
import { DeliveriesPage, DeliveryDetail } from './pages/deliveries';
import { KeysPage } from './pages/keys';
import { LoginPage } from './pages/login';
import { NewSchedulePage } from './pages/new-schedule';
import { ScheduleDetail } from './pages/schedule-detail';
import { SchedulesPage } from './pages/schedules';
import { SloPage } from './pages/slo';
import { TeamPage } from './pages/team';
import { WebhooksPage } from './pages/webhooks';
import { navigate, useRoute } from './router';
import './styles.css';

const NAV = [
  ['schedules', 'nav.schedules'],
  ['deliveries', 'nav.deliveries'],
  ['dead-letters', 'nav.dead_letters'],
  ['keys', 'nav.keys'],
  ['webhooks', 'nav.webhooks'],
  ['config', 'nav.config'],
  ['clone', 'nav.clone'],
  ['team', 'nav.team'],
  ['slo', 'nav.slo'],
] as const;

/** Reads the environment's theme and translations (SPEC §5), so the console wears them. */
async function loadBranding(): Promise<Branding> {
  const [themes, translations] = await Promise.all([
    client.GET('/v1/themes', {}).catch(() => null),
    client.GET('/v1/translations', {}).catch(() => null),
  ]);
  const theme = ((themes?.data as { data?: Record<string, unknown>[] } | undefined)?.data ?? [])[0] ?? {};
  const colors = (theme.colors ?? {}) as Record<string, string>;
  const language = navigator.language.split('-')[0];
  const strings: Record<string, string> = {};
  for (const t of ((translations?.data as { data?: Record<string, unknown>[] } | undefined)?.data ?? [])) {
    if (t.locale === language || t.locale === navigator.language) Object.assign(strings, (t.messages ?? {}) as Record<string, string>);
  }
  return {
    productName: (theme.product_name as string) || DEFAULT_BRANDING.productName,
    logoUrl: (theme.logo_url as string) || null,
    primary: colors.primary ?? (theme.primary_color as string) ?? null,
    strings,
  };
}

function App() {
  const [session, setSession] = useState<Session | null>(sessionStore.get());
  const [environment, setEnvironment] = useState<Environment>(sessionStore.environment());
  const [branding, setBranding] = useState<Branding>(DEFAULT_BRANDING);
  const route = useRoute();

  useEffect(() => {
    const expired = () => {
      sessionStore.set(null);
      setSession(null);
    };
    window.addEventListener('schedstack:unauthorized', expired);
    return () => window.removeEventListener('schedstack:unauthorized', expired);
  }, []);

  useEffect(() => {
    if (session) void loadBranding().then(setBranding, () => setBranding(DEFAULT_BRANDING));
  }, [session, environment]);

  useEffect(() => {
    document.title = branding.productName;
    document.documentElement.style.setProperty('--primary', branding.primary ?? '#4f46e5');
  }, [branding]);

  if (!session) {
    return (
      <LoginPage
        onLogin={(s) => {
          sessionStore.set(s);
          setSession(s);
          if (route.length === 0) navigate('/schedules');
        }}
      />
    );
  }

  const switchEnvironment = (env: Environment) => {
    sessionStore.setEnvironment(env);
    setEnvironment(env);
    // Ids never cross environments: go back to the list of the current section.
    navigate(`/${route[0] ?? 'schedules'}`);
  };

  return (
    <BrandingProvider value={branding}>
      <Shell
        environment={environment}
        onEnvironment={switchEnvironment}
        section={route[0] ?? 'schedules'}
        email={session.email}
        onLogout={async () => {
          await client.DELETE('/v1/sessions/current', {}).catch(() => undefined);
          sessionStore.set(null);
          setSession(null);
        }}
      >
        {/* key: every page reloads its data when the environment changes */}
        <Page key={`${environment}/${route.join('/')}`} route={route} environment={environment} />
      </Shell>
    </BrandingProvider>
  );
}

function Page({ route, environment }: { route: string[]; environment: Environment }) {
  const [section, id] = route;
  switch (section ?? 'schedules') {
    case 'schedules':
      if (id === 'new') return <NewSchedulePage />;
      return id ? <ScheduleDetail id={id} /> : <SchedulesPage environment={environment} />;
    case 'deliveries':
      return id ? <DeliveryDetail id={id} /> : <DeliveriesPage />;
    case 'dead-letters':
      return <DeadLettersPage />;
    case 'keys':
      return <KeysPage environment={environment} />;
    case 'webhooks':
      return <WebhooksPage />;
    case 'config':
      return <ConfigPage resource={id} />;
    case 'clone':
      return <ClonePage environment={environment} />;
    case 'team':
      return <TeamPage environment={environment} />;
    case 'slo':
      return <SloPage />;
    default:
      return <SchedulesPage environment={environment} />;
  }
}

function Shell(props: {
  environment: Environment;
  onEnvironment: (env: Environment) => void;
  section: string;
  email: string;
  onLogout: () => void;
  children: React.ReactNode;
}) {
  const t = useT();
  const { productName, logoUrl } = useBranding();
  const [menuOpen, setMenuOpen] = useState(false);
  return (
    <div className={`shell env-${props.environment}`}>
      {props.environment !== 'live' && (
        <div className="env-banner" role="status" data-testid="env-banner">
          <strong>{props.environment.toUpperCase()}</strong> {t(props.environment === 'sandbox' ? 'banner.sandbox' : 'banner.test')}
        </div>
      )}
      <header className="topbar">
        <button type="button" className="btn btn-ghost menu-toggle" aria-label="Menu" onClick={() => setMenuOpen((o) => !o)}>
          ☰
        </button>
        <a className="brand" href="#/schedules">
          {logoUrl ? <img src={logoUrl} alt="" className="brand-logo" /> : <span className="brand-mark" aria-hidden />}
          {productName}
        </a>
        <div className="env-switch" role="radiogroup" aria-label="Environment">
          {(['live', 'sandbox', 'test'] as const).map((env) => (
            <button
              type="button"
              key={env}
              role="radio"
              aria-checked={props.environment === env}
              className={`env-option env-option-${env} ${props.environment === env ? 'selected' : ''}`}
              onClick={() => props.onEnvironment(env)}
            >
              {env}
            </button>
          ))}
        </div>
        <div className="topbar-right">
          <span className="muted small hide-narrow">{props.email}</span>
          <button type="button" className="btn btn-ghost" onClick={props.onLogout}>
            {t('logout')}
          </button>
        </div>
      </header>
      <div className="body">
        <nav className={`sidebar ${menuOpen ? 'open' : ''}`} onClick={() => setMenuOpen(false)}>
          {NAV.map(([path, key]) => (
            <a key={path} href={`#/${path}`} className={props.section === path ? 'active' : ''}>
              {t(key)}
            </a>
          ))}
        </nav>
        <main className="content">{props.children}</main>
      </div>
    </div>
  );
}

createRoot(document.getElementById('root') as HTMLElement).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
