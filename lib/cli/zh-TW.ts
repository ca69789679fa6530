// Traditional Chinese (Taiwan) text for what the docs generate from data: step titles and explanations, flag
// descriptions, option groups and exit codes. The tables are keyed by the same ids as the English data, so
// `tsc` fails when a step or a flag has no translation. Terms follow the Taiwanese Kubernetes / Istio community:
// 叢集、命名空間、工作負載、閘道、服務網格、策略、憑證、復原； commands, flags, ids and YAML keys stay as they are.
import { createHash } from 'node:crypto'
import type { Config, OptionGroup } from '../config/options.ts'
import type { Layer, Step, StepId } from '../types.ts'
import { pathById, type TargetId } from '../verify/threat-model.ts'
import { type Text, useText } from '../config/text.ts'

export interface StepText {
  title: string
  why: string
}

/** Every Config key that is a flag (`explicit` is bookkeeping, not a flag). */
export type OptionKey = Exclude<keyof Config, 'explicit' | 'contexts'>

export const STEPS_ZH_TW: Record<StepId, StepText> = {
  preflight: {
    title: '事前檢查',
    why:
      '在動到任何東西之前，先確認 runbook 連到的是你要的叢集、你選的 Istio 版本支援它的 Kubernetes 版本，並依 Helm chart 設定的標籤' +
      '找到 Gthulhu 的 manager、scheduler 與 MongoDB。它們的名稱、ServiceAccount 與標籤會用在之後每一個步驟。同時也會找有沒有' +
      '會執行 NetworkPolicy 的 CNI；沒有的話，L4 步驟什麼也保護不了。',
  },
  istioctl: {
    title: '安裝 istioctl（驗證校驗碼）',
    why:
      'istioctl 負責安裝 Istio 與管理 waypoint。原指南把下載腳本直接 pipe 給 sh，版本沒有固定、內容也沒有檢查；這裡改為下載符合' +
      '這台機器的指定版本，先比對官方發布的 .sha256 確認 SHA-256 無誤才解壓縮，再安裝到使用者可寫入的目錄，不需要 sudo。' +
      '執行檔本身的 SHA-256 會記錄下來，之後每次使用前都會檢查；目錄中原本就有的 istioctl，只有在與發布版本逐位元組相同時才會被採用。',
  },
  'gateway-api-crds': {
    title: '安裝 Gateway API CRD',
    why:
      'Istio 的入口閘道與 waypoint proxy 都是由 Gateway API 物件建立的，所以叢集要先有 Gateway API 的 CustomResourceDefinition。' +
      '套件是所選版本與通道的發布檔（原指南用 experimental 通道），以 server-side apply 套用，因為 experimental 套件太大，' +
      'client-side apply 會失敗。已安裝同版本的套件時不會再動；比設定更新的版本，除非你明確同意，否則不會被取代。',
  },
  ambient: {
    title: '安裝 Istio（ambient 設定檔）',
    why:
      'Ambient 模式不用 sidecar 就能把工作負載納入服務網格：istio-cni 節點代理把 Pod 流量導向 ztunnel，這個每個節點一份的 proxy ' +
      '替每個納入的 Pod 提供工作負載身分與雙向 TLS，兩者都由 istiod 設定。precheck 會在任何變更之前擋下不支援的叢集。' +
      '已經裝好相同版本、且是 ambient 設定檔的 Istio 會原封不動；不同的 Istio（別的版本、別的設定檔，或命名空間開了 sidecar 注入）' +
      '會讓 runbook 停下來，因為改動它會影響它服務的每個工作負載。',
  },
  gateway: {
    title: '透過 Gateway 對外提供 Web UI',
    why:
      '原指南不用 port-forward，而是透過 Istio 入口 Gateway 與 HTTPRoute 連到 Gthulhu 的 manager（REST API 與 Web UI）。' +
      'Istio 會替它建立 Deployment 與名為 "<gateway>-istio" 的 Service。沒有雲端負載平衡器時，這個 Service 永遠拿不到外部位址，' +
      '但 Kubernetes 仍會分配 NodePort，原指南就是用節點位址加上 listener 80 對應的 NodePort。--gateway-service-type NodePort ' +
      '則直接請 Istio 建立 NodePort 型別的 Service。兩份 manifest 套用前都會先對照 schema 檢查，而且要等到從這台機器 ' +
      'GET /health 回應 200，這個步驟才算完成。',
  },
  'l4-policies': {
    title: 'L4 NetworkPolicy：只有 manager 能連到 MongoDB 與 scheduler，manager 也連不到其他地方',
    why:
      '如果叢集裡任何 Pod 都能連到 MongoDB 或 decision maker，只要一個 Pod 被入侵，就足以讀取資料或操控排程器。' +
      '原指南的兩條 NetworkPolicy 只放行帶有 manager 標籤的 Pod，放行應用連接埠與 15008：命名空間納入 ambient 之後，服務網格流量會包在 ztunnel 的 HBONE 通道裡，從 15008 進來。' +
      'Ambient 也會把 kubelet 健康檢查改寫成來自 169.254.7.127（IPv6 為 fd16:9254:7127:1337:ffff:ffff:ffff:ffff）；MongoDB 與 decision maker 都有這類探針，所以預設也在應用連接埠上放行這個來源，否則納入之後 Pod 會變成未就緒（如果你的 CNI 本來就不擋 kubelet 流量，可用 --no-allow-kubelet-probes 關掉）。' +
      '流量也必須留在裡面：Gthulhu 的 manager 會把意圖與權杖請求送給它找得到的每一個標著 app=decisionmaker 的 Pod，不論在哪個命名空間，所以任何能在某處替 Pod 貼標籤的人都收得到。' +
      '第三條策略是 runbook 自己的：manager 只能連到 MongoDB、自己命名空間裡的 decision maker（它們的連接埠與 15008）、叢集 DNS，以及事前檢查讀到的 API server 端點' +
      '（CNI 看到的是端點，不是 Service 位址；端點變了就重新執行事前檢查與這個步驟）。如果 manager 必須連到其他地方，可用 --no-manager-egress-policy 關掉。' +
      '策略有被執行才算強化，所以由探測 Pod 來證明：帶 manager 標籤的必須得到 MongoDB 對 hello 的回應，並從 decision maker 的 /health 拿到 HTTP 200；沒有這些標籤的必須被拒絕；' +
      '而在自己專屬命名空間裡、標著 app=decisionmaker 的監聽 Pod，在 45 秒內（manager 每 30 秒同步一次）必須收不到 manager 送來的任何東西。' +
      'NetworkPolicy 相信標籤，而任何能建立 Pod 的人都能貼上 manager 的標籤：identity-policies 步驟會以 mTLS 身分補上這個漏洞。' +
      '注意：原指南的 scheduler 策略也會擋掉 Prometheus 對 8080/9090 的抓取，若有抓取這些指標，請自行加上規則。',
  },
  waypoint: {
    title: '把命名空間納入 ambient，並替 manager 加上 waypoint',
    why:
      '把命名空間標上 istio.io/dataplane-mode=ambient，每個 Gthulhu Pod 的流量就交給 ztunnel，以各 Pod 的 ServiceAccount 身分包上雙向 TLS，這正是之後 L7 策略要檢查的身分。' +
      'ztunnel 只看得到 L4，所以再加上 waypoint proxy，並以 istio.io/use-waypoint 綁定：送往 manager Service 的流量會經過 waypoint，由它執行 HTTP 層級的 AuthorizationPolicy；但只限服務網格內、以 Service 為目的地的呼叫者。' +
      '服務網格外的呼叫者與走 Pod IP 的流量會直接到達 Pod（identity-policies 步驟會關上這條路）。以 Service 為目標的策略，沒有綁定 waypoint 就不會有任何作用。' +
      '這個標籤只貼在 manager Service 上。原指南把它貼在命名空間上，會把那裡的每個 Service 都綁到 waypoint：別人替 manager 的 Pod 建立的 Service 也會經過 waypoint，' +
      '而 waypoint 會以它自己的身分轉送，manager 的身分策略接受這個身分（被冒用的代理人；l7-policies 步驟會在 waypoint 本身掛上一條策略來防範）。' +
      '在 default 命名空間裡，它也會綁到 kubernetes.default.svc，所以已納入的 Pod 對 API server 的流量也會經過 waypoint。--waypoint-binding namespace 保留原指南的做法；' +
      '否則命名空間上指向這個 waypoint 的標籤會被移除。這裡的每個指令都可以重複執行，而且如果 waypoint 被刪除、標籤卻還留著，重新執行就會把它修復。',
  },
  restart: {
    title: '重新啟動 Gthulhu，讓每個 Pod 都在 ambient 內執行',
    why:
      '命名空間納入 ambient 之前就在跑的 Pod，連線與健康檢查路徑仍是舊的方式；原指南會重新啟動 manager、MongoDB 與 scheduler，' +
      '讓每個 Pod 都在納入狀態下啟動。重新啟動也是 L4 策略真正受考驗的時刻：之後 ambient 改寫過的 kubelet 探針與 HBONE 流量' +
      '都會碰到它們。所以這個步驟會確認每個 rollout 都完成、ztunnel 把每個 Pod 列為 HBONE，而且連線矩陣依然成立。納入後馬上' +
      '就緒失敗的 Pod，幾乎都是 kubelet 探針陷阱（NetworkPolicy 沒有放行 169.254.7.127）。',
  },
  'identity-policies': {
    title: 'ztunnel 上的身分策略：只有 waypoint 與閘道能連到 manager，只有 manager 能連到 MongoDB 與 decision maker',
    why:
      '綁在 manager waypoint 上的策略，只看得到有經過 waypoint 的流量；而呼叫端的 ztunnel 只有在已納入的 Pod 以 manager Service 為目的地時，才會把流量送到 waypoint。' +
      '服務網格外的 Pod（沒有納入 ambient 的命名空間、istio.io/dataplane-mode=none、另一個節點上的 hostNetwork Pod），以及任何直接用 manager Pod IP 的 Pod，都會直接到達 manager，waypoint 的規則完全看不到它們。' +
      'NetworkPolicy 也有自己的漏洞：它相信標籤，而任何能建立 Pod 的人都能貼上 manager 的標籤。' +
      '三條帶 Pod selector 的 AuthorizationPolicy 同時補上這兩個漏洞：每個 Pod 所在節點的 ztunnel 會依雙向 TLS 身分，對每一條連線執行它們，而從服務網格外來的明文流量沒有任何身分：manager 的 Pod 只接受 waypoint 與入口閘道的身分，MongoDB 與 decision maker 的 Pod 只接受 manager 的 ServiceAccount。' +
      '代價是叢集內其他所有呼叫者都會被拒絕，Prometheus 也不例外。' +
      '要放行某個呼叫者，請另外加一條使用相同 selector、列出它的 principal 的 ALLOW 策略（ALLOW 策略會疊加），例如在 scheduler Pod 的 8080 與 9090 連接埠放行 cluster.local/ns/monitoring/sa/prometheus，chart 的 ServiceMonitor 就是在這兩個連接埠抓取 /metrics。' +
      'principal 是包含服務網格信任網域的完整字串，信任網域從執行中的服務網格讀取（istio-system 的 istio ConfigMap 裡的 meshConfig.trustDomain）。' +
      'kubelet 健康探針不受影響：ztunnel 不處理它們。與目標 Pod 在同一個節點上的 hostNetwork Pod（或任何行程）也一樣：' +
      'istio-cni 讓節點本身的流量繞過 ztunnel，Calico 也不管制它，所以身分策略擋不住它；驗證時會列出受保護 Pod 所在節點上的這類 Pod。' +
      '驗證時扮演攻擊者：上述每條路徑都必須得不到回應，而 manager、waypoint 與閘道仍然連得到。',
  },
  'admission-policy': {
    title: '准入控制：只有 chart 與 istiod 自己的工作負載能使用 Gthulhu 的身分與標籤',
    why:
      '身分策略信任 ServiceAccount，而 istiod 會為 Pod spec 寫上的任何 ServiceAccount 簽發憑證；NetworkPolicy 則信任標籤。' +
      '因此任何能在 Gthulhu 命名空間建立 Pod、Deployment、Job 或 CronJob 的人，都能以 manager 的身分執行（連到 MongoDB 與 decision maker）、以 scheduler 的身分通過 manager 的 L7 策略，或以 waypoint、閘道的身分連到 manager 的 Pod；' +
      '而他們自己建立、選取 manager Pod 的 Service，會被 waypoint 以 waypoint 自己的身分轉送。' +
      '一條綁定在該命名空間的 ValidatingAdmissionPolicy（failurePolicy Fail）會拒絕上述一切，除非它是 chart 自己的工作負載或 istiod 的閘道，以及它們的控制器照常建立的 Pod。' +
      '只保留一個例外：runbook 執行時的身分（步驟執行時以 kubectl auth whoami 讀取），以及 --probe-users 列出的使用者（例如排程稽核的 ServiceAccount），可以建立帶有 runbook 探測標籤的探測 Pod 與 Service，讓驗證仍能扮演冒充者。' +
      '這個例外信任的是持有或能冒充該身分的人，通常是叢集管理員，而他們本來就能移除這條策略。' +
      '修改 chart 自己的工作負載（helm upgrade、kubectl edit）仍屬 RBAC 的範圍。驗證時以另一個使用者、用伺服器端 dry run 扮演內部人員：每次嘗試都必須被拒絕，而每個工作負載的控制器仍會被放行。',
  },
  'l7-policies': {
    title: 'L7 AuthorizationPolicy：允許的身分才能呼叫 manager，允許的瀏覽器才能通過閘道',
    why:
      '原指南的兩條 Istio AuthorizationPolicy。' +
      '第一條以 manager Service 為目標，由 waypoint 執行：在服務網格內以 manager Service 為目的地的呼叫者中，只有列出的身分（預設是 scheduler 的 ServiceAccount）能在 8080 呼叫它，其他的都拿到 403。' +
      'waypoint 看不到其他流量：服務網格外的呼叫者，或直接用 manager Pod IP 的呼叫者，會直接到達 manager，只有身分策略（上一個步驟）會拒絕它們；驗證時兩條路徑都會試。' +
      '第二條掛在入口閘道自己的 proxy 上，只放行 User-Agent 符合允許值的請求。' +
      '原指南的預設值只放行 macOS 上的 Chrome（以及其他 Chromium 瀏覽器），Safari、Firefox，以及 Windows、Linux 或手機上的任何瀏覽器都不行。' +
      'User-Agent 是由用戶端決定的：誰都能送出 Chrome 的值，所以它只是擋掉隨意存取的過濾條件，不是身分驗證。' +
      'Istio 比對標頭值只有完全相同、前綴（"abc*"）、後綴（"*abc"）或存在（"*"）四種；"*" 出現在其他位置的值，在套用任何東西之前就會被拒絕。' +
      '第三條是 runbook 自己的，掛在 waypoint 本身（targetRefs 的 kind 為 Gateway）：別人替 manager 的 Pod 建立並綁到 waypoint 的 Service 沒有自己的策略，' +
      'waypoint 會以它自己的身分轉送，而 manager 的身分策略接受這個身分；掛在 waypoint 上之後，不論呼叫哪個 Service，都只有 manager 的呼叫者能通過' +
      '（ALLOW 策略會疊加，所以它不會讓 manager 自己的策略沒放行的人連到 manager）。驗證時會建立這樣的 Service，並以別的身分呼叫它。' +
      '入口流量預設不經過 manager 的 waypoint，除非 manager Service 標上 istio.io/ingress-use-waypoint=true，或是 Service 沒有這個標籤、而它的命名空間標了 true' +
      '（--ingress-via-waypoint，同時也會在 manager 策略中放行閘道的身分；沒有這個旗標時，命名空間的 true 會被 Service 上的 false 蓋過）。',
  },
}

export const OPTIONS_ZH_TW: Record<OptionKey, string> = {
  help: '顯示說明後結束。',
  version: '顯示 runbook 的版本後結束。',
  list: '列出各步驟的 id 與它們在這個 context 的狀態，然後結束。',
  yes: '自動化模式：永遠不提問，每個答案都來自旗標或 --config。必須搭配 --context。',
  from: '從這個步驟開始，並執行之後的每一個步驟（包含已完成的）。',
  resume: '從狀態檔中第一個尚未完成的步驟繼續。',
  only: '只執行這些步驟（以逗號分隔），依 runbook 的順序。',
  skip: '略過這些步驟（以逗號分隔）。',
  dryRun: '印出每個選取步驟的計畫，不做任何變更。=server：也讓 API server 判斷每一份 manifest（被拒絕時以 2 結束）。',
  render: '把 runbook 會套用的每份 manifest 連同 kustomization.yaml 寫進這個目錄，不碰任何叢集。',
  probeUsers:
    '除了執行 admission-policy 步驟的身分之外，准許哪些使用者的探測 Pod 與 Service 帶上 Gthulhu 的身分：例如排程稽核所用的身分（system:serviceaccount:<命名空間>:<名稱>），因為它的探測會複製 manager 的標籤與 ServiceAccount。',
  printRbac:
    '印出所選步驟所需的最小 RBAC 權限（一個 ClusterRole、每個命名空間一個 Role，以及綁定到此主體的 binding；主體寫成 user:NAME、group:NAME 或 serviceaccount:NAMESPACE:NAME）後結束；搭配 --verify 時，印出稽核所需的權限。不碰任何叢集。',
  config: '設定用的 YAML 檔，鍵名是去掉 "--" 的旗標名稱（旗標優先）。',
  stateFile: 'runbook 紀錄的本機副本（預設為工作目錄下的 .gthulhu-runbook/<context>.json）；紀錄本身保存在叢集中。',
  timeout:
    '單一 rollout、狀態條件或探測的最長等待時間：90s、5m、1h、1m30s，或純秒數。稽核（--verify）只等待它的探測與它自己的請求。',
  context:
    '要操作的 kube context（使用 --yes 時必填；引導模式下會詢問）。搭配 --verify 時可以給好幾次：對每一個做機群稽核。',
  allContexts: '搭配 --verify：同時稽核 kubeconfig 中每個留有這個 runbook 紀錄的 context，結果列在同一張表。',
  kubeconfig: 'Kubeconfig 檔（預設與 kubectl 相同：KUBECONFIG 或 ~/.kube/config）。',
  namespace: 'Gthulhu 安裝所在的命名空間。',
  release: 'Gthulhu 的 Helm release 名稱（即 app.kubernetes.io/instance 標籤）。',
  istioVersion: '要安裝的 Istio 版本。',
  gatewayApiVersion: '要安裝其 CRD 的 Gateway API 版本。',
  gatewayApiChannel: 'Gateway API 套件：experimental（與原指南相同）或 standard。',
  istioMirror: '與 Istio GitHub releases 相同目錄結構的基底 URL（<url>/<version>/istioctl-…tar.gz）。',
  gatewayApiMirror: '與 Gateway API GitHub releases 相同目錄結構的基底 URL（<url>/<version>/<channel>-install.yaml）。',
  installDir:
    'istioctl 的安裝位置（使用者可寫入；runbook 從不使用 sudo）。之後的執行會使用紀錄中的那個執行檔，並以它的 SHA-256 檢查。',
  replaceNewerGatewayApi: '允許取代比 --gateway-api-version 更新的 Gateway API CRD。',
  allowUntestedKubernetes:
    '叢集的 Kubernetes 版本超出 Istio 測試過的範圍、但 istioctl 仍接受時，照樣繼續（引導模式下改為詢問）。',
  gatewayName: '對外提供 manager 的 Gateway 名稱。',
  routeName: '指向 manager 的 HTTPRoute 名稱。',
  gatewayServiceType: 'Gateway 的 Service 型別：LoadBalancer（原指南；使用它的 NodePort）或 NodePort。',
  allowKubeletProbes:
    '在 L4 策略中也放行 ambient 的 kubelet 探針來源 169.254.7.127（以及對應的 IPv6 位址）（用 --no-allow-kubelet-probes 拿掉）。',
  waypointName: '命名空間的 waypoint proxy 名稱。',
  waypointBinding:
    '哪些東西使用 waypoint：只有 manager Service（istio.io/use-waypoint 貼在 Service 上），或命名空間的每個 Service（貼在命名空間上，與原指南相同：別人在那裡建立的 Service 也會經過 waypoint）。',
  managerEgressPolicy:
    '以對外 NetworkPolicy 限制 manager 能連到哪裡（MongoDB、自己命名空間的 decision maker、DNS、API server）；--no-manager-egress-policy 會讓它把意圖送給任何標著 app=decisionmaker 的 Pod。',
  managerPrincipals:
    '允許呼叫 manager 的身分（預設：scheduler 的 ServiceAccount，<信任網域>/ns/<ns>/sa/<sa>，信任網域取自服務網格的 meshConfig.trustDomain）。',
  allowedUserAgents:
    '閘道放行的 User-Agent 值：完全相同、前綴 "x*"、後綴 "*x" 或 "*"（預設：原指南的 macOS 版 Chrome）。多個值以 "|" 分隔。',
  ingressViaWaypoint:
    '讓閘道流量經過 manager 的 waypoint（替 Service 標上 istio.io/ingress-use-waypoint=true，並放行閘道的身分）。',
  admissionPolicy:
    '套用 ValidatingAdmissionPolicy，讓 Gthulhu 命名空間中只有 chart 與 istiod 自己的工作負載能使用 Gthulhu 的 ServiceAccount 與標籤；--no-admission-policy 會讓借用身分的路徑保持開放。',
  decisionMakerGuard:
    '另外在其他所有命名空間拒絕帶有 app=decisionmaker 標籤的 Pod 與工作負載（manager 會把意圖與權杖送給叢集中每一個這樣的 Pod）；因為它綁定整個叢集，預設關閉。',
  identityPolicies:
    '套用由 ztunnel 執行的身分策略（只有 waypoint 與閘道能連到 manager 的 Pod，只有 manager 能連到 MongoDB 與 decision maker）；--no-identity-policies 會讓繞過 waypoint 的路徑保持開放。',
  probeImage: 'MongoDB 探測 Pod 的映像檔（需要 mongosh；預設為 Gthulhu 的 MongoDB 所用的映像檔，節點上已經有）。',
  httpProbeImage: 'HTTP 探測 Pod 的映像檔（需要 curl）。',
  rollback: '復原這一個步驟：刪除它建立的東西，把標籤與物件放回它執行之前的樣子，並驗證結果。',
  uninstall: '依最新到最舊的順序，復原這個 runbook 在這個 context 做過的每個步驟；runbook 開始之前就存在的東西會保留。',
  takeOver:
    '允許步驟取代名稱與 runbook 相同、但不是 runbook 建立的物件（例如其他團隊的策略）；復原時會把該物件原封不動地放回。沒有這個旗標時，步驟會停下並指出該物件。',
  verify:
    '稽核：對叢集執行每個已完成步驟的驗證，不做任何變更；物件與計畫不符、或別人的物件放寬了存取時以 1 結束，並逐一指出。',
  probes: '以短暫存在的探測 Pod 證明連線能力（--no-probes：只檢查物件，不建立任何東西）。',
  report: '另外把 report.md 與獨立的 report.html（版本、步驟、變更、連線表格、仍然開放的路徑、每項檢查）寫進這個目錄。',
  verbose: '執行時印出每一行 kubectl/istioctl 指令，以及它的耗時與結束碼（JSON 模式為 "command" 事件）。',
  lang: 'runbook 使用的語言，涵蓋步驟名稱與說明、提問、檢查名稱、摘要與訊息：en，或 zh-TW（繁體中文）。',
  output: 'json：stdout 每行一個 JSON 事件，給人看的文字改寫到 stderr。',
}

/** Defaults that are sentences (lib/config/options.ts `defaultText`); a value such as 5m needs none. */
export const DEFAULT_TEXTS_ZH_TW: Partial<Record<OptionKey, string>> = {
  namespace: 'kube context 的命名空間，否則為 default',
}

export const OPTION_GROUPS_ZH_TW: Record<OptionGroup, string> = {
  Run: '執行',
  Cluster: '叢集',
  'Versions and downloads': '版本與下載',
  'Hardening choices': '強化選項',
  Output: '輸出',
}

/** Keyed by exit code; a test checks every code in lib/cli/help.ts has one. */
export const EXIT_CODES_ZH_TW: Record<number, string> = {
  0: '選取的每個步驟都已完成並通過驗證（或 dry run / render / list 已完成）',
  1: '某個步驟或它的某項檢查失敗；會印出接續執行的指令',
  2: '用法或設定錯誤（未知的旗標、錯誤的值、錯誤的設定檔、用了 --yes 卻沒有 context、另一個執行持有鎖、紀錄不是這個 runbook 的或格式錯誤）；沒有做任何變更',
  130: '被中斷（Ctrl-C 或選單中的「離開」）；狀態已儲存，並印出接續執行的指令',
}

/** The threat model's layers (lib/types.ts LAYERS). */
export const LAYERS_ZH_TW: Record<Layer, string> = {
  'CNI NetworkPolicy': 'CNI NetworkPolicy',
  'CNI egress policy': 'CNI 對外（egress）策略',
  'ztunnel identity policy': 'ztunnel 身分策略',
  'waypoint L7': 'waypoint L7',
  admission: '准入控制',
  'gateway L7': '閘道 L7',
}

export const TARGETS_ZH_TW: Record<TargetId, string> = {
  manager: 'manager',
  mongodb: 'MongoDB',
  'decision-maker': 'decision maker',
  gateway: '入口閘道',
}

/** The threat model's paths, keyed by path id; a test checks every path has one and its English fingerprint below. */
export const THREAT_PATHS_ZH_TW: Record<
  string,
  { from: string; via: string; why?: string; wouldClose?: string; notTried?: string }
> = {
  'manager-to-mongodb': { from: 'manager', via: 'MongoDB 的 Pod DNS 名稱' },
  'manager-to-decision-maker': { from: 'manager', via: 'decision maker 的 Pod（headless Service）' },
  'allowed-identity-to-manager': { from: 'manager 策略允許的身分，經由 waypoint', via: 'manager Service' },
  'allowed-browser-to-gateway': { from: '帶著允許的 User-Agent 的用戶端', via: '閘道的位址' },
  'other-pod-to-mongodb': { from: '沒有 manager 標籤、在服務網格外的 Pod', via: 'MongoDB 的 Pod DNS 名稱' },
  'other-pod-to-decision-maker': {
    from: '沒有 manager 標籤、在服務網格外的 Pod',
    via: 'decision maker 的 Pod（headless Service）',
  },
  'outside-mesh-to-manager': { from: '服務網格外的 Pod', via: 'manager Service' },
  'pod-ip-to-manager': { from: '已納入服務網格、但身分不同的 Pod', via: 'manager 的 Pod IP（繞過 waypoint）' },
  'copied-labels-to-mongodb': { from: '帶有 manager 標籤、但身分不同的 Pod', via: 'MongoDB 的 Pod DNS 名稱' },
  'copied-labels-to-decision-maker': {
    from: '帶有 manager 標籤、但身分不同的 Pod',
    via: 'decision maker 的 Pod（headless Service）',
  },
  'other-identity-to-manager-service': {
    from: '已納入服務網格、身分不同的 Pod，經由 waypoint',
    via: 'manager Service',
  },
  'curl-user-agent-to-gateway': {
    from: '帶著 curl 預設 User-Agent 的用戶端',
    via: '閘道的位址',
    why: '送出允許的瀏覽器 User-Agent 的用戶端就能通過閘道：這個標頭是用戶端自己決定的',
    wouldClose: '在閘道做真正的身分驗證（例如 OIDC 的 RequestAuthentication），而不是只篩 User-Agent',
  },
  'borrowed-identity-by-pod': {
    from: '能在該命名空間建立 Pod、並指定 manager ServiceAccount 的人',
    via: '自己的 Pod：istiod 會替 spec 指定的任何 ServiceAccount 簽發憑證',
  },
  'borrowed-identity-by-deployment': {
    from: '能在該命名空間建立 Deployment、並指定 manager ServiceAccount 的人',
    via: 'Deployment 的 Pod，由 ReplicaSet 控制器建立',
  },
  'borrowed-identity-by-cronjob': {
    from: '能在該命名空間建立 CronJob、並指定 manager ServiceAccount 的人',
    via: 'CronJob 所建立 Job 的 Pod',
  },
  'borrowed-scheduler-identity-by-pod': {
    from: '能在該命名空間建立 Pod、並指定 scheduler ServiceAccount 的人',
    via: 'manager Service：manager 的 L7 策略允許 scheduler 的身分',
  },
  'borrowed-waypoint-identity-by-pod': {
    from: '能在該命名空間建立 Pod、並指定 waypoint ServiceAccount 的人',
    via: 'manager 的 Pod IP：它的身分策略允許 waypoint',
  },
  'copied-labels-by-pod': {
    from: '能在該命名空間建立 Pod、並貼上 manager 標籤的人',
    via: 'manager Service 的端點（它會收到 manager 的呼叫者）以及信任標籤的 NetworkPolicy',
  },
  'impostor-decision-maker-by-pod': {
    from: '能在另一個命名空間建立 Pod、並標上 app=decisionmaker 的人',
    via: 'manager 自己送出的請求：它會把意圖與權杖請求送給叢集中每一個這樣的 Pod',
  },
  'service-selecting-manager': {
    from: '能在該命名空間建立 Service、並選取 manager Pod 的人',
    via: '自己的 Service，waypoint 會以 waypoint 的身分轉送它',
  },
  'deputy-service-to-manager': {
    from: '身分不同、已納入服務網格的 Pod，經由別人替 manager 的 Pod 建立並綁到 waypoint 的 Service',
    via: 'waypoint，它以自己的身分轉送（被冒用的代理人）',
  },
  'unbound-service-to-manager': {
    from: '身分不同、已納入服務網格的 Pod，經由別人替 manager 的 Pod 建立的 Service（沒有 waypoint 標籤）',
    via: '只有以整個命名空間綁定時才會經過 waypoint 的 Service',
  },
  'impostor-decision-maker': {
    from: '另一個命名空間裡標著 app=decisionmaker、正在監聽的 Pod',
    via: 'manager 自己的同步（它會列出所有命名空間裡的 decision maker，並逐一呼叫）',
  },
  'host-network-same-node': {
    from: 'manager 所在節點上的 hostNetwork Pod（或節點上的行程）',
    via: '從 manager 自己的節點連到它的 Pod IP',
    why: 'istio-cni 在 Pod 內的規則，會在轉給 ztunnel 之前，於每個連接埠接受節點探測來源（169.254.7.127），Calico 也不管制主機到本機 Pod 的流量：ztunnel 與 CNI 都看不到它（MongoDB 與每個 decision maker 所在的節點也一樣）',
    wouldClose:
      '讓 hostNetwork Pod 不要跑在這些節點上（在其他每個命名空間套用 Pod Security Admission 的 baseline，或用准入控制拒絕清單以外命名空間的 hostNetwork）；identity-policies 的稽核會列出這些節點上的 hostNetwork Pod',
  },
  'host-network-other-node': {
    from: '另一個節點上的 hostNetwork Pod（或節點上的行程）',
    via: '從另一個節點連到 manager 的 Pod IP（明文，沒有身分）',
  },
}

/** The reasons a closure is off (Closure.disabledBecause), keyed by the English. */
export const CHOICES_ZH_TW: Record<string, string> = {
  'left out with --no-identity-policies': '以 --no-identity-policies 略過',
  "the manager policy's principals admit the namespace's default ServiceAccount":
    'manager 策略的 principals 允許命名空間的 default ServiceAccount',
  "an allowed User-Agent pattern also admits curl's": '允許的 User-Agent 樣式也允許 curl 的',
  'left out with --no-manager-egress-policy': '以 --no-manager-egress-policy 略過',
  'with --no-identity-policies nothing refuses it, and with --waypoint-binding namespace it passes the waypoint, whose identity the manager admits':
    '使用 --no-identity-policies 時沒有任何東西拒絕它；使用 --waypoint-binding namespace 時它會經過 waypoint，而 manager 接受 waypoint 的身分',
  'bound to the manager Service only, the waypoint never sees this Service':
    '只把 manager Service 綁到 waypoint 時，waypoint 永遠看不到這個 Service',
  'left out with --no-admission-policy': '以 --no-admission-policy 略過',
  'the cluster-wide decision-maker guard is off (it is opt-in: --decision-maker-guard)':
    '整個叢集的 decision maker 防線沒有開啟（需要自行開啟：--decision-maker-guard）',
}

/**
 * Gives the steps the title and explanation of the run's --lang, from the tables above (the step files stay
 * English). A run has one language, so this is done once, before anything shows a step.
 */
export function useLanguage(steps: Step[], lang: Config['lang']): void {
  if (lang !== 'zh-TW') return
  for (const step of steps) Object.assign(step, STEPS_ZH_TW[step.id])
  useText(TEXT_ZH_TW)
}

/** A short fingerprint of an English text, recorded below when it is translated. */
export const englishFingerprint = (english: string) => createHash('sha256').update(english).digest('hex').slice(0, 12)

/**
 * The English each translation above was made from ('step:<id>' covers title and why, joined by a newline): a test
 * fails when the English changes, naming the translation to update and the fingerprint to record with it.
 */
export const TRANSLATED_FROM: Record<string, string> = {
  'step:preflight': '6f7d66269260',
  'step:istioctl': 'bc1c8fced786',
  'step:gateway-api-crds': 'e9a0c680c8e2',
  'step:ambient': '18cc0175e818',
  'step:gateway': '5d2b9e4943ae',
  'step:l4-policies': 'efe667ba2cd9',
  'step:waypoint': '57fad30bb8f7',
  'step:restart': '65b1df69d02d',
  'step:identity-policies': 'b6a9c67a2952',
  'step:admission-policy': 'fb8188328d4c',
  'step:l7-policies': '4e70e46b9315',
  'path:manager-to-mongodb': 'a3d74a8d47df',
  'path:manager-to-decision-maker': 'fc48522d4e6a',
  'path:allowed-identity-to-manager': '0f92f43a6738',
  'path:allowed-browser-to-gateway': '1594dbc48f0f',
  'path:other-pod-to-mongodb': '9809ab35c41a',
  'path:other-pod-to-decision-maker': 'f13888d1813f',
  'path:outside-mesh-to-manager': '5e21997c2ab5',
  'path:pod-ip-to-manager': 'e02c019661b6',
  'path:copied-labels-to-mongodb': '63a7e31178f5',
  'path:copied-labels-to-decision-maker': '300c2c9d5de9',
  'path:other-identity-to-manager-service': '793c39ce53a3',
  'path:curl-user-agent-to-gateway': '2cc52bf354e9',
  'path:borrowed-identity-by-pod': 'e67409e69e1b',
  'path:borrowed-identity-by-deployment': '38193434f46a',
  'path:borrowed-identity-by-cronjob': '9fbee5ec066b',
  'path:borrowed-scheduler-identity-by-pod': '42149d933baa',
  'path:borrowed-waypoint-identity-by-pod': 'effc012be68a',
  'path:copied-labels-by-pod': 'c63169be9ae6',
  'path:impostor-decision-maker-by-pod': 'f49cb59992e3',
  'path:service-selecting-manager': '54296f611a9f',
  'path:deputy-service-to-manager': '2762dbd76ecf',
  'path:impostor-decision-maker': 'dc60c1fe3442',
  'path:host-network-same-node': 'c1bf00ecadb4',
  'flag:help': '2cfa53b60583',
  'flag:version': 'd896638558d9',
  'flag:list': 'fc03509b2a13',
  'flag:yes': '700220b92956',
  'flag:from': '95890528bd3c',
  'flag:resume': 'a115e686ca91',
  'flag:only': '6fc1ca193709',
  'flag:skip': '57a59e4d3e1f',
  'flag:dryRun': '137f724a7bf7',
  'flag:render': '6fa4d47f3441',
  'flag:printRbac': 'b4ea4e046118',
  'flag:config': '1a127cc564a8',
  'flag:stateFile': '70fc35326748',
  'flag:timeout': 'e0305f6dfa4c',
  'flag:context': 'b59c064fc243',
  'flag:allContexts': '1c54bfe458f1',
  'flag:kubeconfig': '2a78f0ef4e87',
  'flag:namespace': '20e58399a19e',
  'flag:release': 'f0fc252422e2',
  'flag:istioVersion': '14bf65869390',
  'flag:gatewayApiVersion': '0ab244e660dc',
  'flag:gatewayApiChannel': '2d0ef2d2b2e9',
  'flag:istioMirror': '7808d37ae2a2',
  'flag:gatewayApiMirror': 'c89437f1de5d',
  'flag:installDir': '79acd7a4a043',
  'flag:allowUntestedKubernetes': '8e89b31d3fc2',
  'flag:replaceNewerGatewayApi': '5d5dc537e812',
  'flag:gatewayName': '550ad259c3cb',
  'flag:routeName': '8284a7d85d7f',
  'flag:gatewayServiceType': '153165aab925',
  'flag:allowKubeletProbes': '0294a29dbd22',
  'flag:waypointName': 'f6f9e8d2eac4',
  'flag:managerPrincipals': '80c708ea926a',
  'flag:allowedUserAgents': '38016cffb4de',
  'flag:ingressViaWaypoint': 'f857d040ee47',
  'flag:identityPolicies': 'ee333b4da15f',
  'flag:admissionPolicy': 'f1607e642ea0',
  'flag:decisionMakerGuard': '17fb8792a735',
  'flag:probeUsers': 'ba3acea1569c',
  'flag:probeImage': '8250d02b50f6',
  'flag:httpProbeImage': 'd6c17b485f08',
  'flag:output': '2ee648e33b94',
  'flag:rollback': 'b1662922c6da',
  'flag:uninstall': '176e3969c099',
  'flag:takeOver': 'bc274669c7b5',
  'flag:verify': '4dc40645ee24',
  'flag:probes': 'a1434e95f62c',
  'flag:report': '67907c56dc2a',
  'flag:verbose': 'a71a2ab2c06d',
  'flag:lang': '438375cd7408',
  'flag:managerEgressPolicy': '7eaaef8ef82d',
  'flag:waypointBinding': '2a2756a01610',
  'path:host-network-other-node': '98e88de365c5',
  'path:unbound-service-to-manager': '18a61666fb80',
  'default:namespace': 'd6101c2eb0b9',
  'exit:0': 'cc3c914af5e6',
  'exit:1': '34a1266cb16a',
  'exit:2': '25106d6272a7',
  'exit:130': '25e0f7f0db79',
}

const zhExpectation = (kind: 'answered' | 'blocked' | 'status', status?: number) =>
  kind === 'answered' ? '有回應' : kind === 'blocked' ? '被拒絕' : `HTTP ${status}`

/** A threat-model path as a zh-TW check name: who → target (which way). */
function zhPath(id: string | undefined): string | undefined {
  const path = id ? pathById(id) : undefined
  const words = id ? THREAT_PATHS_ZH_TW[id] : undefined
  return path && words ? `${words.from} → ${TARGETS_ZH_TW[path.target]}（經由${words.via}）` : undefined
}

/** Why a path is open, in zh-TW: the model's own reason, a step not applied yet, or an operator's choice. */
function zhReason(why: string, id: string): string {
  if (why === pathById(id)?.staysOpen?.why) return THREAT_PATHS_ZH_TW[id]?.why ?? why
  const notApplied = /^(\S+) has not been applied$/.exec(why)
  if (notApplied) return `${notApplied[1]} 還沒有套用`
  if (why === 'no layer of this runbook closes it') return '這個 runbook 沒有任何一層能關閉它'
  return CHOICES_ZH_TW[why] ?? why
}

const zhLayer = (layer: string) => LAYERS_ZH_TW[layer as Layer] ?? layer

/** A protected workload's title (lib/domain/network-policies.ts, lib/verify/threat-model.ts TARGET_TITLES). */
const zhTitle = (title: string) =>
  ({ 'scheduler sidecar': 'scheduler 的 sidecar', 'ingress gateway': '入口閘道' })[title] ?? title

/** Why a path could not be tried (lib/verify/threat-model.ts): the fixed reasons, with their values kept. */
const NOT_TRIED_ZH_TW: [RegExp, string][] = [
  [
    /^no Running manager pod, so there is no pod IP or node to try$/,
    '沒有 Running 的 manager Pod，所以沒有 Pod IP 或節點可以試',
  ],
  [/^no Running manager pod, so there is no pod IP to try$/, '沒有 Running 的 manager Pod，所以沒有 Pod IP 可以試'],
  [/^every node that takes pods runs a manager pod \((.*)\)$/, '每個能排 Pod 的節點上都跑著 manager 的 Pod（$1）'],
  [
    /^none of the principals the manager policy admits is an existing ServiceAccount in (\S+), so no probe can wear it$/,
    'manager 策略放行的 principal 都不是 $1 裡現有的 ServiceAccount，所以沒有探測能使用它',
  ],
]
const zhNotTried = (reason: string) => {
  const found = NOT_TRIED_ZH_TW.find(([pattern]) => pattern.test(reason))
  return found ? reason.replace(found[0], found[1]) : reason
}

/** What would close a path, in zh-TW: the model's own words, else "step (layer)" with the layer translated. */
function zhWouldClose(what: string, id: string): string {
  if (what === pathById(id)?.staysOpen?.wouldClose) return THREAT_PATHS_ZH_TW[id]?.wouldClose ?? what
  return what.replace(/\(([^)]+)\)/g, (whole, layer) =>
    LAYERS_ZH_TW[layer as Layer] ? `（${zhLayer(layer)}）` : whole,
  )
}
/** Layers named in a sentence: 「ztunnel 身分策略」與「CNI NetworkPolicy」. */
const quoted = (layers: string[], and: string) => layers.map((l) => `「${zhLayer(l)}」`).join(and)

/** What a probe saw, in the matrix's cells. */
const zhObservation = (kind: Parameters<Text['matrix']['observation']>[0], status?: number) =>
  ({
    answered: '有回應',
    status: `HTTP ${status}`,
    blocked: '被拒絕',
    refused: '連線被拒',
    unresolved: '名稱無法解析',
    error: '錯誤',
    skipped: '未探測',
  })[kind]

/**
 * The threat model's probe sources and destinations (lib/verify/threat-model.ts, lib/verify/targets.ts), as the
 * matrix's headings: the English names carry values (names, ports), so each pattern keeps them in place.
 */
const PROBE_PLACES_ZH_TW: [RegExp, string][] = [
  [/^manager \((.+)'s labels\)$/, 'manager（帶 $1 的標籤）'],
  [/^other pod \((.+)\)$/, '其他 Pod（$1）'],
  [/^pod outside the mesh$/, '服務網格外的 Pod'],
  [/^enrolled pod, ServiceAccount (\S+)$/, '已納入服務網格的 Pod，ServiceAccount $1'],
  [/^manager's labels, ServiceAccount (\S+)$/, '帶 manager 標籤的 Pod，ServiceAccount $1'],
  [/^hostNetwork pod, the manager's node$/, 'manager 所在節點上的 hostNetwork Pod'],
  [/^hostNetwork pod, another node$/, '另一個節點上的 hostNetwork Pod'],
  [/^impostor decision maker \(app=(\S+), another namespace\)$/, '冒充的 decision maker（app=$1，在另一個命名空間）'],
  [/^manager Service :(\d+)$/, 'manager Service :$1'],
  [/^manager pod IP :(\d+)$/, 'manager 的 Pod IP :$1'],
  [/^another Service on the waypoint :(\d+)$/, '綁到 waypoint 的另一個 Service :$1'],
  [/^another Service, unbound :(\d+)$/, '沒有綁 waypoint 的另一個 Service :$1'],
  [/^requests from the manager :(\d+)$/, '來自 manager 的請求 :$1'],
  [/^scheduler sidecar :(\d+)$/, 'scheduler 的 sidecar :$1'],
]
const zhPlace = (name: string) => {
  const found = PROBE_PLACES_ZH_TW.find(([pattern]) => pattern.test(name))
  return found ? name.replace(found[0], found[1]) : name
}

const STATUS_ZH_TW = {
  pending: '待執行',
  running: '執行中',
  done: '完成',
  failed: '失敗',
  skipped: '略過',
  interrupted: '中斷',
  accepted: '接受',
  undone: '已復原',
  drifted: '偏離',
}

/**
 * What the runbook says besides the steps' titles and explanations (lib/config/text.ts), in Traditional Chinese.
 * Typed as the English table, so tsc fails on a missing entry; values inside the sentences stay as they are.
 */
export const TEXT_ZH_TW: Text = {
  menu: {
    runStep: (id) => `要執行 ${id} 嗎？`,
    run: '執行這個步驟',
    plan: '顯示完整計畫（每個指令與每份 manifest）',
    skip: '略過這個步驟',
    all: '執行這個以及剩下所有步驟，不再詢問',
    quit: '離開（狀態已儲存，之後可以接續執行）',
    afterFailure: (id) => `${id} 沒有通過驗證。接下來要怎麼做？`,
    retryVerify: '重新驗證（叢集可能需要多一點時間）',
    rerun: '重新執行這個步驟',
    rollback: '復原這個步驟',
    accept: '接受並繼續（記錄為 accepted）',
    undoStep: (id) => `要復原 ${id} 嗎？`,
    undo: '依上面所列復原這個步驟',
    quitUndo: '離開（不再復原其他東西；之後再執行同一個指令即可）',
    context: 'runbook 要強化哪一個 kube context？',
    contextChoice: (name, current, cluster, server) =>
      `${name}${current ? '（目前使用中）' : ''} → 叢集 ${cluster}${server ? `，位於 ${server}` : ''}`,
    yesNo: '(y/N)',
  },
  questions: {
    browsers: '哪些瀏覽器可以透過閘道開啟 Web UI？（User-Agent 是用戶端自己決定的：這只是過濾，不是身分驗證）',
    chromeMac: 'macOS 上的 Chrome（原指南的選擇）',
    chromeWindows: 'Windows 上的 Chrome',
    chromeLinux: 'Linux 上的 Chrome',
    anotherPattern: '其他樣式（接著輸入）',
    pickOne: '至少選一個',
    customAgents: 'User-Agent 樣式，以 "|" 分隔（完全相同、前綴 "x*"、後綴 "*x" 或 "*"）：',
    principals: '哪些身分可以在 8080 呼叫 manager？（以逗號分隔；原指南選的是 scheduler 的身分）',
    ingress: '從閘道進來的瀏覽器流量，要經過 manager 的 waypoint 嗎？',
    ingressNo: '不要（原指南）：由閘道策略過濾瀏覽器；manager 策略只管服務網格內的呼叫者',
    ingressYes: (gatewayName) =>
      `要：替 Service 標上 istio.io/ingress-use-waypoint=true，並在 manager 策略中放行閘道的身分（…/sa/${gatewayName}-istio）`,
    noPrincipal: '至少要指定一個身分，否則 manager 會拒絕所有人',
    badPrincipal: (value) => `"${value}" 不是 cluster.local/ns/<namespace>/sa/<serviceaccount> 這種形式的身分`,
    noUserAgent: '至少要給一個 User-Agent 樣式',
    kept: (flag, value) => `  ${flag} ${value}（已記下，接續執行時沿用）`,
    untestedKubernetes: (version, istio, tested) =>
      `${version} 不在 Istio ${istio} 測試過的版本範圍內（${tested}），但 istioctl 接受它。仍要繼續嗎？`,
    replaceNewerCrds: (installed, wanted) =>
      `叢集裡已經裝了 ${installed} 的 Gateway API CRD，比 ${wanted} 新。取代它們可能會弄壞安裝它們的東西。要取代嗎？`,
    untestedKubernetesWhen: '叢集的 Kubernetes 版本不在 Istio 測試過的範圍內',
    replaceNewerCrdsWhen: '叢集裡已經有較新的 Gateway API CRD',
    keys: { navigate: '移動', select: '選取', all: '全選', invert: '反選', submit: '送出' },
  },
  run: {
    itWill: '它會：',
    fullPlan: (id) => `${id} 的完整計畫：`,
    nothingMore: (id) => `上面的預覽就是 ${id} 的完整計畫：它不套用任何 manifest，每個指令都已列出。`,
    skippedByOperator: '操作人員選擇略過',
    skipWarning: (id, dependents) =>
      `⚠ 略過 ${id}：${dependents.join('、')} 需要它；它們依賴它的檢查會顯示「略過：需要 ${id}」`,
    runAll: '剩下的步驟會直接執行，不再詢問。',
    runAllAnswers: '它們的提問會採用下列答案（可用旗標改變；接續執行時會再問一次）：',
    runAllConfirms: '步驟中途可能出現的提問，一律回答否：',
    fromFlag: '已指定',
    fromRecord: '先前回答過',
    byDefault: '預設',
    stoppedBefore: (id) => `依操作人員的要求，在 ${id} 之前停止`,
    interruptedDuring: (id) => `在 ${id} 執行中被中斷`,
    interruptedNote: '在完成前被中斷（Ctrl-C、SIGTERM，或它的終端機、輸出已不在）',
    failed: (id, message) => `✖ ${id} 失敗：${message}`,
    stepFailed: (id, message) => `步驟 ${id} 失敗：${message}`,
    acceptedDespite: (message) => `操作人員接受了這個結果，儘管：${message}`,
    rolledBackAfter: (id, message) => `步驟 ${id} 已在失敗後復原：${message}`,
    checksFailed: (count, names) => `${count} 項檢查失敗：${names}`,
    checksSkipped: (count, steps) => `${count} 項檢查略過：需要 ${steps}`,
    skippedNeeds: (id) => `略過：需要 ${id}`,
    applyTask: '套用',
    undoTask: '復原',
    verifyTask: '對照叢集驗證',
    verified: (passed, total) => `已驗證：${total} 項檢查通過 ${passed} 項`,
    nothingToChange: (why) => `沒有需要變更的：${why}`,
    stepLine: (title, passed, total, seconds, skipped) =>
      `${title}：${total} 項檢查通過 ${passed} 項${skipped ? `，略過 ${skipped} 項` : ''}（${seconds}）`,
    undoWill: '復原會：',
    stoppedBeforeUndo: (id) => `依操作人員的要求，在復原 ${id} 之前停止`,
    undoing: (id) => `↩ 正在復原 ${id}`,
    undone: '已復原',
    undoFailedNote: (interrupted) => (interrupted ? '復原被中斷' : '復原失敗'),
    interruptedUndoing: (id) => `復原 ${id} 時被中斷`,
    undoFailed: (id, message) => `復原 ${id} 失敗：${message}`,
    interruptedVerifying: (id) => `驗證 ${id} 時被中斷`,
    verificationCompletes: (id) => `${id}：驗證完整跑完`,
    everyCheckEvaluated: '每項檢查都有結果',
    drifts: (count) => `${count} 處偏離`,
    holds: '成立',
    cleanupFailed: (message) => `⚠ 清理失敗：${message}`,
    quitAtPrompt: '在提問時離開',
  },
  notes: {
    readOnly: '唯讀步驟',
    istioctlInstalled: (version, path) => `istioctl ${version} 已經安裝在 ${path}`,
    crdsInstalled: (count, channel, version) => `${channel} 套件的 ${count} 個 CRD 都已安裝為 ${version}`,
    istioInstalled: (version) => `Istio ${version} 已經以 ambient 設定檔安裝`,
    gatewayAsConfigured: (gateway, route) => `Gateway ${gateway} 與 HTTPRoute ${route} 已經符合設定`,
    networkPoliciesApplied: 'NetworkPolicy 都已依計畫套用',
    waypointInPlace: (namespace, name, scope) =>
      `命名空間 ${namespace} 已納入 ambient，並使用已 Programmed 的 waypoint ${name}（${scope}）`,
    waypointScopeNamespace: '命名空間中的每個 Service',
    waypointScopeService: (service) => `只有 Service ${service}`,
    restarted: (times) => `已由這個 runbook 在 ${times} 重新啟動；每個 Pod 都已納入`,
    identityLeftOut: '以 --no-identity-policies 略過',
    identityApplied: '三條身分策略都已依計畫套用',
    l7Applied: '三條 AuthorizationPolicy 與 Service 的標籤都已符合計畫',
    istioctlRecorded: (version, target, sha256) =>
      `istioctl ${version} 已經安裝在 ${target}（sha256 ${sha256}…，與紀錄相符）`,
    istioctlAdopted: (target, version, sha256) =>
      `採用 ${target} 的 istioctl：它與 ${version} 發布版本逐位元組相同（sha256 ${sha256}…）`,
    admissionLeftOut: '以 --no-admission-policy 略過',
    admissionApplied: (policy) => `策略 ${policy} 與它的 binding 都已套用`,
  },
  checks: {
    expected: '預期',
    observed: '實際',
    expectedLine: (value) => `預期：${value}`,
    observedLine: (value) => `實際：${value}`,
    diffLine: '差異（- 叢集上的值，+ 計畫的值）：',
    drift: (step, name, expected, observed) => `${step}：${name}——預期 ${expected}，實際 ${observed}`,
    kubectlOnPath: 'PATH 上有 kubectl',
    contextAnswers: (context) => `context ${context} 有回應`,
    kubernetesSupported: (istio) => `Istio ${istio} 支援的 Kubernetes 版本`,
    workloadFound: (role, kind) => `找到 Gthulhu ${role}（${kind}）`,
    cniEnforces: '會執行 NetworkPolicy 的 CNI',
    istioctlUndone: (path, kept) => `${path} 的 istioctl ${kept ? '保留原處（runbook 之前就在）' : '已移除'}`,
    istioctlExecutable: (path) => `${path} 的 istioctl 可執行`,
    istioctlVersion: 'istioctl 回報的版本（version --remote=false）',
    crdsDeleted: 'runbook 安裝的 Gateway API CRD 已刪除',
    crdsLeft: '原本就在的 Gateway API CRD 保留原處',
    crdEstablished: (name) => `CRD ${name} 已 Established`,
    istiodUndone: (namespace, kept) =>
      `${namespace} 裡的 istiod ${kept ? '保留原處（runbook 之前就已安裝）' : '已移除'}`,
    componentReady: (kind, ref) => `${kind} ${ref} 已就緒`,
    condition: (ref, condition) => `${ref} 的 ${condition} 狀態`,
    routeAccepted: (ref, gateway) => `${ref} 已被 ${gateway} 接受`,
    nodePort: (service, port) => `Service ${service} 對應 listener 連接埠 ${port} 的 NodePort`,
    gatewayEnvoyReady: (deployment) => `Deployment ${deployment}（Gateway 的 Envoy）已就緒`,
    nodeAddress: 'NodePort 使用的節點位址',
    healthThrough: (url, via) => `從這台機器經由 ${via === 'load balancer' ? '負載平衡器' : via} GET ${url}`,
    health: (url) => `從這台機器 GET ${url}`,
    namespaceLabel: (namespace, label) => `命名空間 ${namespace} 有 ${label}`,
    waypointProgrammed: (ref) => `waypoint Gateway ${ref} 已 Programmed`,
    waypointStatus: (namespace, name) => `istioctl waypoint status -n ${namespace} 回報 ${name} 正常`,
    rolloutComplete: (ref) => `${ref} 的 rollout 已完成`,
    podsReady: (ref) => `${ref} 的 Pod 已就緒`,
    podsEnrolled: (ref) => `${ref} 的 Pod 已納入（istioctl ztunnel-config workloads 顯示 HBONE）`,
    podsOutOfAmbient: (ref, stillAmbient) =>
      `${ref} 的 Pod ${stillAmbient ? '仍在 ambient 內（命名空間還是 ambient）' : '已離開 ambient'}`,
    l4AfterRestart: '重新啟動後的 L4 連線能力',
    policyApplied: (kind, ref) => `${kind} ${ref} 已依計畫套用`,
    ztunnelTakenUp: (name) => `istiod 已為 ztunnel 轉譯 ${name}`,
    waypointAccepted: (name) => `${name} 已被 waypoint 接受`,
    ztunnelWarning: (name) => `${name}：istiod 的 ZtunnelAccepted 警告`,
    selectsGatewayPods: (name) => `${name} 選到閘道的 Pod`,
    ingressPath: (label, service, namespace) =>
      `通往 manager 的入口路徑（Service ${service} 上的 ${label}，沒有時看命名空間 ${namespace} 上的）`,
    waypointAttached: (name, waypoint) => `${name} 已附加到 waypoint ${waypoint}`,
    admitsManager: (policy, port, hbone) => `${policy} 在 ${port} 與 ${hbone}（HBONE）放行 manager`,
    admitsKubelet: (policy, source, port) => `${policy} 在 ${port} 放行 ambient 的 kubelet 探針（${source}）`,
    objectRestored: (ref) => `${ref} 已恢復成 runbook 之前的樣子（spec、標籤、註解）`,
    objectUndone: (ref, kept) => `${ref} ${kept ? '保留原處（不是 runbook 建立的）' : '已刪除'}`,
    labelRestored: (key, ref) => `${ref} 上的標籤 ${key} 已恢復成 runbook 之前的值`,
    apiServerEndpoints: 'API server 的端點（Endpoints default/kubernetes）',
    istioctlVerified: (path) => `${path} 的 istioctl 就是 runbook 驗證過的那個執行檔`,
    trustDomain: (configMap) => `服務網格的信任網域（${configMap} 裡的 meshConfig.trustDomain）`,
    egressAdmitsApiServer: (policy) => `${policy} 放行 API server 目前的端點`,
    noWiderNetworkPolicy: (target, policy) => `沒有其他 NetworkPolicy 對 ${zhTitle(target)} 放行得比 ${policy} 更多`,
    podsOf: (workload) => `${workload} 的 Pod`,
    managerServiceThroughWaypoint: (service) => `manager Service ${service}（經由 waypoint）`,
    ingressGateway: (gateway) => `入口閘道 ${gateway}`,
    noWiderAllow: (what) => `沒有其他 ALLOW AuthorizationPolicy 對 ${what} 放行得更多`,
    otherPoliciesApply: (what) => `其他套用在 ${what} 上的 AuthorizationPolicy`,
    noPlaintext: (what) => `沒有 PeerAuthentication 讓明文流量進到 ${what}`,
    serviceLabel: (ref, label) => `Service ${ref} 有 ${label}`,
    namespaceNotBinding: (namespace, waypoint) => `命名空間 ${namespace} 沒有把每個 Service 都綁到 ${waypoint}`,
    hostNetworkPods: (nodes) =>
      `manager、MongoDB 與 decision maker 所在節點（${nodes.join('、') || '找不到'}）上的 hostNetwork Pod：它們可以直接連到這些工作負載`,
    controllerStillCreates: (kind, name, owner) =>
      `${kind} ${name}（${owner === 'istiod' ? 'istiod' : 'chart'} 的）仍能建立它的 Pod`,
    pathOpen: (because, path, until) =>
      `這條路徑仍開放：${until ? `${until.step} 還沒有套用；${until.step} 步驟會關閉它（${zhLayer(until.layer)}）` : zhReason(because, path)}`,
    pathOpenForGood: (because, path, wouldClose) =>
      `這條路徑仍開放：${zhReason(because, path)}；能關閉它的：${zhWouldClose(wouldClose, path)}`,
    behindAdmission: (hint, applied) =>
      `${hint}。${applied ? '准入控制仍會拒絕' : 'admission-policy 執行後，准入控制會拒絕'}內部人員為這條路徑自行建立的物件；runbook 的探測在准入控制那裡是豁免的，所以它只試了准入控制之後的各層`,
    pathRefusedAnyway: (because, path) =>
      `這個 runbook 讓這條路徑保持開放（${zhReason(because, path)}），它卻被拒絕了：拒絕它的是 runbook 沒有設定的東西，所以不宣稱任何保護`,
    probe: (source, destination, expectation, path) => {
      const from = zhPath(path)
      const port = /:(\d+)/.exec(destination)?.[1]
      return `${from ?? `${source} → ${destination}`}${from && port ? ` :${port}` : ''}：${expectation}`
    },
    pathName: (from, target, via, path) => zhPath(path) ?? `${from} → ${target}（經由${via}）`,
    gatewayRequest: (url, who, userAgent, status, path) =>
      `${path && THREAT_PATHS_ZH_TW[path] ? THREAT_PATHS_ZH_TW[path].from : `${who}（${userAgent}）`} → 閘道 ${url}：HTTP ${status}`,
    expectation: zhExpectation,
    observation: (kind, detail, status) =>
      kind === 'answered' || kind === 'status' ? zhObservation(kind, status) : `${zhObservation(kind)}（${detail}）`,
    observedBy: (observation, pod) => `${observation} [Pod ${pod}]`,
    nothingListens: '連線被拒：那裡沒有任何東西在監聽',
    nothingReachedListener: '監聽的 Pod 沒有收到任何東西',
    imageCannot: (tool, output) => `探測映像檔無法${tool === 'nc' ? '以 nc 監聽' : `執行 ${tool}`}：${output}`,
  },
  progress: {
    probesRetry: (count, seconds, attempt, attempts) =>
      `${count} 個探測的結果還不如預期；策略生效需要一點時間，${seconds} 秒後再試（第 ${attempt} 次，共 ${attempts} 次）`,
    probesStarted: (count, namespaces, names) => `已在 ${namespaces} 啟動 ${count} 個探測 Pod：${names}`,
    probesNotDeleted: (selector, error) => `刪除探測 Pod（${selector}）失敗：${error}`,
    labelRemoved: (key, ref) => `已從 ${ref} 移除標籤 ${key}`,
    labelPutBack: (key, value, ref) => `已把 ${ref} 的標籤 ${key} 恢復為 ${value}`,
    leftNotOurs: (ref) => `保留 ${ref}：它在 runbook 之前就存在，不是 runbook 建立的`,
    leftAsBefore: (ref) => `保留 ${ref}：它和 runbook 之前一樣`,
    putBack: (ref) => `已把 ${ref} 恢復成 runbook 接管之前的樣子`,
    deleted: (ref) => `已刪除 ${ref}`,
    stillAmbient: (namespace, label) =>
      `命名空間 ${namespace} 仍有標籤 ${label}=ambient，所以其中的 Pod 仍在 ambient 內；復原 waypoint 步驟時才會把它們移出`,
    restartedOutOfAmbient: (refs) => `已重新啟動 ${refs}，讓它們離開 ambient；正在等待 rollout 完成`,
    differsFromPlan: (ref, fields) => `${ref} 與計畫不同（${fields}）；改為套用計畫的版本`,
    applied: (refs) => `已套用 ${refs.join('、')}`,
    appliedChanges: (changes) => `已套用：${changes.join('；')}`,
    toolSaid: (tool, line) => `${tool} 回報：${line}`,
    downloading: (url) => `正在下載 ${url}`,
    checksumVerified: (sha256, bytes) => `校驗碼相符（sha256 ${sha256}…，${bytes} 位元組）`,
    istioctlInstalled: (target, sha256) => `已安裝 ${target}（sha256 ${sha256}…）`,
    istioctlLeft: (target) => `保留 ${target}：runbook 之前就在了`,
    istioctlGone: (target) => `${target} 已經不在了`,
    istioctlRemoved: (target) => `已移除 ${target}`,
    applyingBundle: (channel, version, reason) => `正在套用 ${channel} 通道的 ${version} 套件（${reason}）`,
    bundleDiffers: (count, missing, other, versions, standard) =>
      `${count} 個 CRD 中，${[
        missing ? `${missing} 個尚未安裝` : '',
        other ? `${other} 個是其他版本（${versions}）` : '',
        standard ? `${standard} 個來自 standard 通道` : '',
      ]
        .filter(Boolean)
        .join('、')}`,
    replacingAsConfirmed: '依你的確認，取代較新的 CRD',
    crdsKept: (count, bundle) => `保留 runbook 之前就在的 ${count} 個 Gateway API CRD（套件版本 ${bundle ?? '不明'}）`,
    crdsDeleted: (count, names) => `已刪除 ${count} 個 Gateway API CRD：${names}`,
    istioPrecheck: (reason) => `${reason}；正在執行 istioctl x precheck`,
    noIstiod: (namespace) => `${namespace} 裡沒有 istiod`,
    ambientIncomplete: (version, absent) => `Istio ${version} 的 ambient 元件不完整：缺少 ${absent.join('、')}`,
    componentsRun: (components) => components.map((c) => `${c.name} 執行的是 ${c.version ?? '不明的版本'}`).join('、'),
    installingIstio: (version) => `正在以 ambient 設定檔安裝 Istio ${version}`,
    istioLeft: (namespace) => `保留 ${namespace} 裡的 Istio：它在 runbook 之前就已安裝`,
    istioUninstalled: '已解除安裝 Istio（istioctl uninstall --purge）',
    namespaceDeleted: (namespace) => `已刪除命名空間 ${namespace}`,
    healthRequest: (url, via, userAgent) => `經由 ${via} 以 User-Agent "${userAgent}" GET ${url}`,
    via: (via) => (via === 'load balancer' ? '負載平衡器' : via),
    namespaceLabelled: (namespace, label) => `已替命名空間 ${namespace} 標上 ${label}`,
    serviceLabelled: (ref, label) => `已替 Service ${ref} 標上 ${label}`,
    waypointApplied: (ref) => `已套用 waypoint ${ref}`,
    namespaceBindingRemoved: (label, namespace) =>
      `已從命名空間 ${namespace} 移除 ${label}：現在只有 manager Service 使用 waypoint（復原時會把標籤放回去）`,
    restarting: (refs, timeout) => `已重新啟動 ${refs}；正在等待 rollout 完成（每個最多 ${timeout} 秒）`,
    rolloutsComplete: (refs) => `rollout 已完成：${refs}`,
    insiderRbac: (applied, user) => `已套用 ${applied.join('、')}：${user} 能建立的東西，讓它的嘗試能送到准入控制`,
    admissionApplied: (objects, user) => `已套用 ${objects.join('、')}；runbook 自己的探測可以例外的身分：${user}`,
    ingressMode: (viaWaypoint, label, gatewayName) =>
      viaWaypoint
        ? `入口流量經過 manager 的 waypoint（Service 標上 ${label}=true）：manager 策略也會套用到瀏覽器流量，並放行閘道的身分（${gatewayName}-istio）`
        : '入口流量不經過 manager 的 waypoint：瀏覽器流量只由閘道的 User-Agent 策略過濾；manager 策略只管服務網格內的呼叫者',
    serviceLabelSet: (label, service, namespaceSaysTrue) =>
      `已在 Service ${service} 設定標籤 ${label}${namespaceSaysTrue ? `（命名空間 ${namespaceSaysTrue} 標的是 true）` : ''}`,
    serviceLabelRemoved: (label, service) => `已從 Service ${service} 移除標籤 ${label}`,
  },
  warnings: {
    waypointRebound: (namespace, bound, name) => `命名空間 ${namespace} 原本指定 waypoint ${bound}；改用 ${name}`,
    namespaceWideDefault:
      '命名空間 default 整個綁到 waypoint，連 kubernetes.default.svc 也在內：已納入的 Pod 連往 API server 的流量現在都會經過 waypoint（istio/istio#50325），所以 manager 得靠 waypoint 正常運作',
    otherServicesBound: (namespace, bound) =>
      `命名空間 ${namespace} 把其他 Service 綁到 waypoint ${bound}；維持原樣（manager Service 自己的標籤優先）`,
    replacingCrds: (versions, wanted) => `將 ${versions} 版的 Gateway API CRD 換成 ${wanted}`,
    replacingIstioctl: (installed, target, version) =>
      `將 runbook 先前安裝在 ${target} 的 istioctl ${installed ?? '（沒有版本資訊）'} 換成 ${version}`,
    istioctlChanged: (target, sha256) => `保留 ${target}：它已經不是 runbook 安裝的那個執行檔（sha256 ${sha256}…）`,
    restartNotEnrolled: (namespace, label) =>
      `命名空間 ${namespace} 沒有納入 ambient（${label} 不是 "ambient"）：重新啟動不會讓 Pod 納入；請先執行 waypoint 步驟`,
  },
  matrix: {
    heading: (enrolled) =>
      `誰連得到什麼${enrolled === undefined ? '' : enrolled ? '（命名空間已納入 ambient）' : '（命名空間尚未納入 ambient）'}，每格是「預期／實際」：`,
    corner: '來源 ↓  目的地 →',
    legend: '（每格：預期／實際）',
    legendDisclosed: '（每格：預期／實際；⚠ 是這個 runbook 保持開放、實際也連得通的攻擊路徑：詳見該項檢查）',
    observation: zhObservation,
    cell: (mark, expected, observed) => `${mark} ${expected}／${observed}`,
    place: zhPlace,
  },
  ledger: {
    title: '仍然開放的路徑（完整模型見 docs/zh-TW/threat-model.md）：',
    open: '○ 開放  ',
    partly: '◐ 部分開放',
    path: (id, from, target) => {
      const path = pathById(id)
      return `${id}：${THREAT_PATHS_ZH_TW[id]?.from ?? from} → ${path ? TARGETS_ZH_TW[path.target] : target}`
    },
    // The model's own reasons are translated; a reason computed from the settings is looked up, else kept as it is.
    why: (why, id) => `原因：${zhReason(why, id)}`,
    wouldClose: (what, id) => `能關閉它的：${zhWouldClose(what, id)}`,
    nothing: '  威脅模型列出的路徑都已關閉',
    closed: (ids) => `已關閉並試過：${ids || '目前還沒有'}`,
    notApplied: (step) => `${step} 還沒有套用`,
    stepCloses: (step, layer) => `${step} 步驟（${LAYERS_ZH_TW[layer as Layer] ?? layer}）`,
  },
  summary: {
    title: '摘要：',
    checks: (passed, total) => `${total} 項檢查通過 ${passed} 項`,
    note: (note) => `（${note}）`,
    notRun: '未執行',
    status: STATUS_ZH_TW,
    notInOnly: '不在 --only 之中',
    beforeFrom: (from) => `在 --from ${from} 之前`,
    namedInSkip: '列在 --skip 中',
    earlierRun: (status) => `先前的執行已${status}`,
  },
  plan: {
    readOnly: '唯讀：叢集裡不會有任何變更',
    clientVersion: '只在下一個指令沒有印出用戶端版本時執行',
    serverVersion: 'kubectl 的版本；context 有回應，而且它的版本在 Istio 支援的範圍內',
    findWorkload: (role, selector) => `依 Pod 標籤 ${selector} 找到 ${role}`,
    whichCni: '執行的是哪一種 CNI',
    apiServerAddresses: 'API server 的位址，manager 的對外策略必須放行它們',
    istioctlDownload:
      'runbook 記錄在那裡的執行檔還在時會略過；不是 runbook 安裝的執行檔，只有與發布版本完全相同時才會採用',
    mustReport: (version) => `必須回報 ${version}`,
    verifyAgainst: (checksumUrl) => `以 ${checksumUrl} 驗證`,
    inMemory: '記憶體（直接 pipe 給 kubectl，不寫入磁碟）',
    bundleDownload: '套件的每個 CRD 都已安裝為這個版本時會略過',
    compareAnnotation: (annotation, version) => `把它們的 ${annotation} 註解與 ${version} 比較`,
    bundleOnStdin: (channel, version) => `${channel} 通道的 ${version} 套件，從 stdin 傳入`,
    waitEstablished: '接著等待套件的每個 CRD 都變成 Established',
    skipOrStopIstio: (version) => `已經裝好 Istio ${version} 的 ambient 時略過；裝的是其他 Istio 時停止`,
    stopOnInjection: '命名空間標有 sidecar 注入標籤時停止',
    waitReady: (refs, namespace) => `接著等待 ${namespace} 裡的 ${refs} 全部就緒`,
    gatewayServiceType: (nodePort) =>
      nodePort ? 'Istio 會把它的 Service 建成 NodePort' : 'Istio 會把它的 Service 建成 LoadBalancer；使用它的 NodePort',
    removedFields: (annotation) =>
      `計畫沒有設定的欄位（先前執行留下的 ${annotation}、別人的修改）會從兩個物件上移除，使用先檢查其值的 JSON patch`,
    gatewayConditions: (port) =>
      `Gateway 的 Accepted 與 Programmed（或 AddressNotAssigned 但已分配 NodePort）；route 的 Accepted 與 ResolvedRefs；listener 連接埠 ${port} 的 NodePort；Gateway 的 Envoy Deployment 已就緒`,
    nodeAddress: '就緒節點的 ExternalIP，沒有時用 InternalIP',
    healthMustAnswer: (path, userAgent) =>
      `從這台機器以 User-Agent "${userAgent}" GET http://<node>:<nodePort>${path} 必須回應 200`,
    onlyManagerToMongo: '只有 manager 能連到 MongoDB',
    managerEgress: 'manager 只能連到 MongoDB、自己命名空間的 decision maker、叢集 DNS 與 API server',
    onlyManagerToDecisionMaker: '只有 manager 能連到 decision maker',
    kubeletNotAdmitted:
      '不放行 kubelet 探針來源 169.254.7.127（--no-allow-kubelet-probes）：納入 ambient 後，MongoDB 與 decision maker 可能變成未就緒',
    egressAwaitsEndpoints: (policy) =>
      `${policy}（manager 只能連到 MongoDB、自己命名空間的 decision maker、叢集 DNS 與 API server）要等 preflight 讀到 API server 的端點（Endpoints default/kubernetes）才會列入計畫：少了它們，它會切斷 manager 與 API server 的連線`,
    egressNotLimited:
      '不限制 manager 的對外流量（--no-manager-egress-policy）：manager 會繼續把意圖送給任何命名空間裡標著 app=decisionmaker 的 Pod',
    verifyL4: (namespace, mongoImage, healthPath, httpImage) =>
      `驗證：在 ${namespace} 建立探測 Pod，結束後刪除——扮演 manager 的 Pod 要得到 MongoDB 對 hello 的回應（${mongoImage}，mongosh），並從 scheduler 的 sidecar ${healthPath} 拿到 HTTP 200（${httpImage}，curl）；沒有 manager 標籤、在服務網格外的 Pod 兩者都要被拒絕；在自己專屬命名空間（結束後刪除）裡標著 app=decisionmaker 的監聽 Pod，收不到 manager 送來的任何東西`,
    namespaceBinding: '命名空間的每個 Service 都使用這個 waypoint（原指南的做法）：別人在那裡建立的 Service 也會經過它',
    serviceBinding: '只有 manager Service 使用這個 waypoint',
    namespaceLabelRemoved: (namespace, label) =>
      `命名空間 ${namespace} 有 ${label}（原指南以整個命名空間綁定）時，會移除這個標籤：它會把命名空間的每個 Service 都綁到 waypoint`,
    ztunnelTakesOver: 'ztunnel 接手這個命名空間的 Pod',
    waypointFor: (overwriteIn) =>
      `給 L7 策略用的 waypoint（GatewayClass istio-waypoint）；等到它 Programmed${overwriteIn ? `（命名空間 ${overwriteIn} 已指定 waypoint 時加上 --overwrite）` : ''}`,
    verifyWaypoint: (namespace, bound, waypoint) =>
      `驗證：命名空間 ${namespace} 已納入，${bound} 綁到 ${waypoint}，Gateway ${waypoint} 已 Programmed，以及 istioctl waypoint status`,
    boundNamespace: (namespace) => `命名空間 ${namespace}`,
    boundService: (service) => `Service ${service}`,
    concurrently: '三個同時執行',
    everyPodHbone: (namespace) => `${namespace} 的每個 Pod 都顯示 HBONE 協定`,
    verifyRestart: '驗證：再次檢查 L4 策略（包含 HBONE 用的 15008）與連線矩陣，探測 Pod 結束後刪除',
    identityLeftOut:
      '略過（--no-identity-policies）：走 Pod IP、來自服務網格外、複製標籤的呼叫者，仍然連得到 manager、MongoDB 與 decision maker；驗證時會回報這些路徑',
    ztunnelAdmitsOnly: (principals) => `ztunnel 只放行 ${principals}`,
    verifyIdentity: (namespace) =>
      `驗證：在 ${namespace} 用探測 Pod 試各種繞道（服務網格外 → manager Service；已納入、ServiceAccount default → manager 的 Pod IP，以及探測替 manager 的 Pod 建立的 Service；帶 manager 標籤、ServiceAccount default → MongoDB 與 decision maker；另一個節點的 hostNetwork → manager 的 Pod IP），每一條都不能得到回應；manager 所在節點上的 hostNetwork Pod 顯示仍然開放的路徑；manager 的身分仍要連得到兩個後端，允許的呼叫者經由 waypoint、瀏覽器經由閘道仍要連得到 manager；並列出受保護 Pod 所在節點上的 hostNetwork Pod`,
    insiderRole: (user, namespace) =>
      `${user} 在 ${namespace} 能建立的東西（沒有憑證：驗證時以 kubectl --as 扮演它），讓它的嘗試能送到准入控制`,
    insiderBinding: (user) => `把它授予 ${user}`,
    admissionLeftOut:
      '略過（--no-admission-policy）：任何能在命名空間建立 Pod、Deployment、Job 或 CronJob 的人，仍能使用 manager、scheduler、waypoint 或閘道的身分；驗證時會把這些路徑回報為開放',
    exemptUserLater: (placeholder) =>
      `例外的使用者在步驟執行時以 kubectl auth whoami 讀取（這裡顯示為 ${placeholder}）`,
    onlyOwners: (owners) => `只有 ${owners}（以及它們控制器建立的 Pod）能使用這些身分`,
    bindingDenies: (namespace) => `在命名空間 ${namespace} 套用這條策略，違反時拒絕`,
    verifyAdmission: (serviceAccount) =>
      `驗證：以使用者 gthulhu-runbook-attacker 執行 kubectl create --dry-run=server，指定 ${serviceAccount} 的 Pod、Deployment 與 CronJob，指定 scheduler 與 waypoint 的 ServiceAccount 的 Pod，帶 manager 標籤的 Pod，以及選取 manager Pod 的 Service，每一個都必須被拒絕；每個工作負載的 Pod 副本以它自己的控制器送出時必須被放行；runbook 的冒充探測照常執行`,
    mayCallManager: (principals) => `只有 ${principals} 能呼叫 manager`,
    waypointPolicy: (waypoint, principals) =>
      `不論誰把哪個 Service 綁到 waypoint ${waypoint}，只有 ${principals} 能通過`,
    admitsAgents: (agents) => `放行 ${agents}`,
    namespaceDecides: (label, namespace) =>
      `（命名空間 ${namespace} 有 ${label}=true 時改設 ${label}=false：沒有這個標籤的 Service 由命名空間決定）`,
    verifyL7: (httpImage) =>
      `驗證：以 curl 探測 Pod（${httpImage}）扮演允許的 ServiceAccount（預期 200）與 "default"（預期 403），也經由探測替 manager 的 Pod 建立並綁到 waypoint 的 Service（預期 403；結束後刪除）；並以允許的 User-Agent 與 curl 預設的 User-Agent 連 NodePort`,
    userAgent: (kind, value) =>
      kind === 'presence'
        ? '任何帶有 User-Agent 標頭的請求'
        : kind === 'exact'
          ? `完全等於 ${value} 的 User-Agent`
          : kind === 'prefix'
            ? `以 ${value} 開頭的 User-Agent`
            : kind === 'suffix'
              ? `以 ${value} 結尾的 User-Agent`
              : value,
    unusable: (pattern, why) => `${pattern}（無法使用：${why}）`,
    undoLeave: (ref) => `保留 ${ref}：它在 runbook 之前就存在，不是 runbook 建立的`,
    undoPutBack: (ref) => `把 ${ref} 恢復成 runbook 接管之前的樣子（kubectl replace）`,
    nothingToUndo: '沒有東西要復原：這個步驟只讀取叢集',
  },
  hints: {
    policyChanged: '有人修改或刪除了它；請重新執行 l4-policies 步驟來恢復',
    egressChanged:
      '有人修改或刪除了它；請重新執行 l4-policies 步驟。少了它，manager 會把意圖送給任何命名空間裡標著 app=decisionmaker 的 Pod',
    apiServerChanged:
      'API server 的位址變了（或讀不到）：manager 再也無法列出 decision maker。請重新執行 preflight 與 l4-policies，讓策略寫上目前的位址',
    policiesAddUp: (names, namespace) =>
      `NetworkPolicy 會疊加：被好幾條選到的 Pod，任何一條放行的來源都連得到它。請移除或縮小 ${names || '它'}（kubectl describe networkpolicy -n ${namespace}），或保留它，並接受只有身分策略會拒絕這些呼叫者`,
    hbone: (policy, title, enrolled, port) =>
      `${enrolled ? '命名空間已納入 ambient，所以' : '命名空間納入 ambient 之後，'} manager 的流量是包在 ztunnel 的 HBONE 通道裡、從 ${port} 連接埠到達 ${zhTitle(title)}，而不是應用連接埠；` +
      `NetworkPolicy ${policy} 必須放行來自 manager 的 ${port}，否則通道會被丟棄，manager 的連線會在它自己的 ztunnel 接受之後立刻被重設。請重新執行 l4-policies，套用含 ${port} 的原指南策略。`,
    kubeletTrap: (title, policy, sources) =>
      `ambient 會把已納入 Pod 的 kubelet 健康探針改寫成來自 ${sources}；如果 NetworkPolicy ${policy} 沒有放行這個來源，` +
      `${zhTitle(title)} 的 readiness 探針會在納入後失敗，Pod 變成未就緒（kubelet 探針陷阱）。除非你的 CNI 不管制 kubelet 流量，否則請保留 --allow-kubelet-probes（預設）。`,
    otherPathsProven: '只有其他路徑得到證明',
    notTried: (reason) => `沒有試：${zhNotTried(reason)}`,
    noGatewayAddress: '沒有記錄閘道位址：請先執行 gateway 步驟',
    gatewayAddressGone: (missing) => `閘道現在沒有位址：${missing}`,
    verdict: (verdict) => (verdict === 'answered' ? '有回應' : verdict === 'refused' ? '被拒絕' : '開放'),
    admitted: (detail) => `已放行：${detail}`,
    refusedAtAdmission: (kind, user) => `在准入時被拒絕（kubectl create ${kind} --dry-run=server --as=${user}）`,
    admittedOpen: '放行（這條路徑是開放的）',
    attemptFailed: (detail) => `無法進行這次嘗試：${detail}`,
    apiServerAdmitted:
      'API server 放行了它：請確認 ValidatingAdmissionPolicy 與它的 binding 存在（kubectl get validatingadmissionpolicies,validatingadmissionpolicybindings -l app.kubernetes.io/managed-by=gthulhu-runbook），而且 API server 提供 admissionregistration.k8s.io/v1（Kubernetes 1.30 以上）',
    expectedAdmitted: (detail) => `這條路徑開放時，預期 API server 會放行；它的回應是：${detail}`,
    probeFailed: (detail) => `探測本身失敗了：${detail}`,
    allowRejected: (principal, namespace) =>
      `manager 的 ALLOW 策略拒絕了 ${principal}：ALLOW 策略會拒絕任何一條規則都不符合的請求。請對照 kubectl get authorizationpolicy -n ${namespace} -o yaml（principals、ports），再重新執行 l7-policies`,
    waypointIdentity: (principal) =>
      `manager 的身分策略必須放行 waypoint 的身分 ${principal}；如果你指定了別的 waypoint，請用相同的 --waypoint-name 執行 identity-policies。如果服務網格的信任網域（meshConfig.trustDomain）變了，請重新執行 identity-policies，讓它的 principal 使用新的信任網域`,
    noAnswerFromManager: (kind, waypoint, namespace) =>
      `請求沒有得到 manager 的回應（${kind}）；請檢查 ${namespace} 裡 waypoint ${waypoint} 的 Pod 與 manager 的 Pod`,
    unlistedIdentityAnswered: (binding) =>
      `manager 回應了策略沒有列出的身分：以 Service 為目標的策略只由綁定的 waypoint 執行——請確認${binding}（waypoint 步驟），而且 manager 策略回報 WaypointAccepted=True`,
    managerServiceHas: (label) => ` manager Service 有 ${label}`,
    namespaceHas: (namespace, label) => `命名空間 ${namespace} 有 ${label}`,
    expectedWaypoint403: (kind) =>
      `預期 waypoint 回 403（RBAC: access denied）；其他失敗（${kind}）無法證明策略的任何事`,
    noAnswerAtAll: (title, detail, namespace, selector, trap) =>
      `${zhTitle(title)} 完全沒有回應（${detail}），所以這個探測無法證明策略的任何事：請確認它的 Pod 是 Running 且 Ready（kubectl get pods -n ${namespace} -l ${selector}）。如果它們在納入 ambient 後變成未就緒，那就是 kubelet 探針陷阱：${trap}`,
    servesTls: (title, port) =>
      `${zhTitle(title)} 對明文 HTTP 回了 HTTP 400：它多半在 ${port} 提供（雙向）TLS（Gthulhu 開了 mtls.enabled），而 preflight 沒有發現。連線有通，所以 NetworkPolicy 成立；請重新執行 preflight，讓探測改用 TLS`,
    answeredStatus: (title, status, expectation, logs) =>
      `${zhTitle(title)} 回了 HTTP ${status}，而不是${expectation}：連線有通，所以原因不在 NetworkPolicy；請檢查 Pod 的健康狀態（${logs}）`,
    enrolledReset: (title, serviceAccount) =>
      `納入 ambient 後，連上就馬上被重設，表示 manager 的 ztunnel 接受了連線，但它通往 ${zhTitle(title)} 的通道被丟棄或拒絕（NetworkPolicy，或 ztunnel 在那裡執行的 AuthorizationPolicy：它的身分策略必須放行 manager 的 ServiceAccount ${serviceAccount}）。`,
    shouldAdmitManager: (policy, selector, ports, namespace, more) =>
      `NetworkPolicy ${policy} 應該在 ${ports} 放行標有 ${selector} 的 Pod；請和 Pod 的標籤對照（kubectl describe networkpolicy ${policy} -n ${namespace}）。${more}`,
    portAnd: (port, hbone) => `${port}${hbone ? ` 與 ${hbone}` : ''}`,
    noKnownCni: '沒有已知的 CNI',
    cniNotEnforcing: (cni, title, others) =>
      `沒有 manager 標籤的 Pod 連上了：多半是叢集的 CNI 不執行 NetworkPolicy（preflight 找到的是：${cni}），所以策略只是存著、沒有作用。` +
      `請安裝或啟用會執行它們的 CNI（Calico、Cilium、kind 0.24 以上的 kindnet）。${others ? `也請檢查其他選到 ${zhTitle(title)} 的 NetworkPolicy：${others}。` : ''}`,
    impostorCalled:
      'manager 把請求送給了另一個命名空間裡標著 app=decisionmaker 的 Pod：它會呼叫它找到的每一個這種 Pod（Gthulhu/api 會在所有命名空間裡列出它們）',
    impostorReached: (namespace) => `manager 連到了 ${namespace} 以外一個標著 app=decisionmaker 的 Pod`,
    egressIgnored: (reached, cni, policy) =>
      `${reached}：多半是叢集的 CNI 不執行 NetworkPolicy（preflight 找到的是：${cni}），所以它的對外 NetworkPolicy ${policy} 只是存著、沒有作用。請安裝或啟用會執行對外策略的 CNI（Calico、Cilium、kind 0.24 以上的 kindnet）。`,
    egressShouldAdmit: (reached, policy, namespace, selector, cni) =>
      `${reached}：它的對外 NetworkPolicy ${policy} 應該只放行 MongoDB、這個命名空間的 decision maker、DNS 與 API server。請確認它存在並選到 manager 的 Pod（kubectl describe networkpolicy ${policy} -n ${namespace}；標有 ${selector} 的 Pod），而且 CNI 會執行對外策略（preflight 找到的是：${cni}）`,
    waypointForwarded: (principal, policy, waypoint, namespace) =>
      `waypoint 以它自己的身分 ${principal} 轉送了一個不是 manager 的 Service，而 manager 的身分策略接受這個身分：掛在 waypoint 本身的策略（${policy}，targetRefs kind Gateway ${waypoint}）必須拒絕 manager 策略沒有列出的每個身分。請確認它存在並回報 WaypointAccepted=True（kubectl get authorizationpolicies -n ${namespace}），再重新執行 l7-policies`,
    unboundReached: (label) =>
      `沒有 waypoint 標籤的 Service 連到了 manager 的 Pod：manager 上 ztunnel 的身分策略應該拒絕呼叫者自己的身分。請確認命名空間沒有 ${label}（它會把每個 Service 都綁到 waypoint），而且身分策略存在（identity-policies 步驟）`,
    deputyOtherFailure: (expectation, failure) =>
      `對別人建立的 Service，預期是${expectation}；其他失敗（${failure}）無法證明策略的任何事`,
    identityNotRefused: (namespace, destination) =>
      `這條路徑得到了回應，所以沒有任何身分策略拒絕它：請確認策略存在並選到 Pod（kubectl get authorizationpolicies -n ${namespace} -l app.kubernetes.io/managed-by=gthulhu-runbook）、目的地的 Pod 已納入（istioctl ztunnel-config workloads 顯示 HBONE），而且 ${zhPlace(destination)} 有被某條策略涵蓋`,
    gatewayViaWaypoint: (principal) =>
      `入口流量經過 manager 的 waypoint，所以 manager 策略必須放行閘道的身分 ${principal}（由 --ingress-via-waypoint 加上；請重新執行 l7-policies）`,
    gatewayControl: (principal) =>
      `閘道的 User-Agent 策略應該放行這個 User-Agent，manager 的身分策略也應該放行閘道的身分 ${principal}；如果你指定了別的閘道，請用相同的 --gateway-name 執行策略步驟`,
    gatewayAdmittedAgent: (gatewayName) =>
      `閘道放行了策略沒有列出的 User-Agent：請確認閘道策略選到閘道的 Pod（gateway.networking.k8s.io/gateway-name=${gatewayName}）`,
  },
  failures: {
    noIstioctlPlatform: (platform) =>
      `Istio 沒有發布 ${platform} 的 istioctl；支援的有：linux（amd64、arm64、armv7）、osx（amd64、arm64）`,
    checksumMismatch: (url, actual, checksumUrl, expected) =>
      `${url} 的校驗碼不符：壓縮檔的雜湊值是 ${actual}，${checksumUrl} 寫的是 ${expected}；沒有安裝任何東西`,
    noBinaryInArchive: (url, found) =>
      `${url} 裡沒有 istioctl 執行檔（找到的是：${found.join('、') || '（什麼都沒有）'}）`,
    downloadedVersion: (version, problem, expected) =>
      `下載的 istioctl 回報的版本是 ${version ?? `（沒有版本：${problem}）`}，預期是 ${expected}；沒有安裝任何東西`,
    notTheRelease: (target, version, present, release, recorded) =>
      `${target} 不是 ${version} 發布版本的 istioctl（它的雜湊值是 ${present}，發布版本的執行檔是 ${release}）` +
      `${recorded ? '，也不是 runbook 安裝在那裡的那一個' : ''}：runbook 不會執行、也不會取代它無法擔保的執行檔。` +
      '請把它移走（runbook 接著會安裝發布版本），或改用其他 --install-dir',
    newerCrds: (versions, wanted, names, newest) =>
      `叢集裡已經裝了 ${versions} 的 Gateway API CRD，比 --gateway-api-version ${wanted} 新（${names.join('、')}）。` +
      `取代它們可能會弄壞安裝它們的東西。請改用 --gateway-api-version ${newest}，或確定要取代時加上 --replace-newer-gateway-api 重新執行。`,
    crdsInUse: (objects) =>
      `還有 Gateway API 物件存在，刪除 CRD 也會一併刪除它們：${objects}。請先移除它們（或復原建立它們的步驟）；Istio 的 GatewayClass 會隨 Istio 一起移除。`,
    sidecarInjection: (namespace, labels, removeArgs) =>
      `命名空間 ${namespace} 標有 sidecar 注入的標籤（${labels}）；同一批工作負載同時用 ambient 模式與 sidecar 會互相衝突。` +
      `請移除標籤（kubectl label namespace ${namespace} ${removeArgs}）並重新啟動 Pod，再重新執行。`,
    otherIstio: (version, namespace, wanted) =>
      `${namespace} 裡已經裝了 Istio ${version}，不是 ${wanted}。runbook 不會升級或降級執行中的控制平面：` +
      `要沿用它，請加上 --istio-version ${version} 重新執行；或自行升級（istio.io/latest/docs/ambient/upgrade）後再重新執行。`,
    notAmbient: (version, namespace) =>
      `${namespace} 裡的 Istio ${version} 不是以 ambient 設定檔安裝的（istiod 沒有 PILOT_ENABLE_AMBIENT=true）。` +
      '切換設定檔會改變服務網格中每個工作負載的運作方式；請審慎自行處理（istioctl install --set profile=ambient）後再重新執行。',
    unknownVersion: '不明的版本',
    precheckFailed: (exitCode, findings, command) =>
      `istioctl x precheck 以 ${exitCode} 結束；沒有安裝任何東西：\n${findings || '（沒有輸出）'}\n` +
      `請修正它回報的問題（詳情：${command}），再重新執行這個步驟。`,
    stillEnrolled: (namespaces, label) =>
      `還有命名空間納入 ambient，解除安裝 Istio 會讓它們離開服務網格：${namespaces}。請先移除它們的 ${label} 標籤（或復原 waypoint 步驟）。`,
    noManagerService: (ref, namespace) =>
      `manager（${ref}）在 ${namespace} 裡沒有 8080 連接埠的 Service；HTTPRoute 需要它當作後端`,
    noApiServerEndpoints:
      '讀不到 API server 的端點（kubectl get endpoints kubernetes -n default），而少了它們，manager 的對外策略會切斷 manager 與 API server 的連線。請確認 runbook 有權限讀取它們，或加上 --no-manager-egress-policy；沒有套用任何東西',
    noNamespace: (namespace) => `命名空間 ${namespace} 不存在；請檢查 --namespace`,
    foreignWaypoint: (ref, gatewayClass, name, namespace) =>
      `Gateway ${ref} 已經存在，gatewayClassName 是 ${gatewayClass ?? '（沒有）'}，所以不是這個 runbook 可以管理的 waypoint。` +
      `請用 --waypoint-name 換個名稱，或自行移除那個 Gateway（kubectl get gateway ${name} -n ${namespace} -o yaml），再重新執行。`,
    noManagerServiceForWaypoint: (ref) => `Service ${ref}（manager 的）不存在；請重新執行 preflight，或檢查 --release`,
    workloadsMissing: (refs, namespace) =>
      `在 ${namespace} 裡找不到 ${refs.join('、')}；請重新執行 preflight（kubectl get ${refs.join(' ')} -n ${namespace}）`,
    rolloutIncomplete: (timeout, reasons) => `rollout 沒有在 ${timeout} 秒內完成：\n  ${reasons.join('\n  ')}`,
    rolloutDidNotComplete: 'rollout 沒有完成',
    noWhoami:
      'kubectl auth whoami 沒有回報使用者，所以准入策略無法讓 runbook 自己的探測例外；請確認叢集提供 authentication.k8s.io/v1 SelfSubjectReview（Kubernetes 1.28 以上）',
    undoBlocked: (id, reason) => `${id} 沒有復原：${reason}`,
    downloadTimedOut: (url) => `下載 ${url} 逾時`,
    cannotDownload: (url, why) => `無法下載 ${url}：${why}`,
    downloadCutShort: (url, why) => `${url} 的下載中斷了：${why}`,
    receivedOf: (bytes, expected) => `只收到 ${expected} 位元組中的 ${bytes} 位元組`,
    cutShortAfter: (url, bytes, expected, why) =>
      `${url} 的下載在 ${bytes}${expected !== undefined ? `／${expected}` : ''} 位元組時中斷：${why}`,
    cannotWriteDownload: (url, destination, code, why) => `無法把 ${url} 的下載寫入 ${destination}：${code}（${why}）`,
    noDigest: (url, got) => `${url} 裡沒有 SHA-256 摘要（讀到的是 ${got}）`,
    unverifiedIstioctl: (binary) =>
      `拒絕執行 ${binary}：它不是這個 runbook 驗證過的 istioctl；請執行 istioctl 步驟（--only istioctl）安裝經過校驗碼驗證的版本`,
    verifiedIstioctlMissing: (binary, code) =>
      `這台機器的 ${binary} 沒有 runbook 驗證過的 istioctl（${code}）；請執行 --only istioctl 在這裡安裝`,
    istioctlChanged: (binary, actual, expected) =>
      `拒絕執行 ${binary}：它在 runbook 驗證之後被改過（sha256 ${actual}，紀錄是 ${expected}）；請先查出是誰改的，再把它移走，並執行 --only istioctl 重新安裝驗證過的發布版本`,
    noVerifiedIstioctl:
      '紀錄裡沒有以 SHA-256 驗證過的 istioctl（紀錄較舊，或還沒執行 istioctl 步驟）：請先執行 --only istioctl',
    rolloutsIncomplete: (timeout, refs, command) => `rollout 沒有在 ${timeout} 秒內完成：${refs}（${command}）`,
    probesStuck: (seconds, stuck, namespace, images) =>
      `探測 Pod 沒有在 ${seconds} 秒內結束，所以無法驗證策略：\n  ${stuck.join('\n  ')}\n` +
      `請確認 ${namespace} 可以排程 Pod，而且映像檔 ${images} 拉得下來（--probe-image、--http-probe-image、--timeout）`,
    podDisappeared: '已消失',
  },
  render: {
    written: (count, dir, files) =>
      `已把 ${count} 份 manifest 與 kustomization.yaml 寫進 ${dir}：\n${files.map((f) => `  ${f}`).join('\n')}`,
    commandsToo: '步驟也會執行指令（istioctl install、waypoint apply、rollout restart）；完整計畫請看 --dry-run。',
  },
  errors: {
    yesNeedsContext: (contexts) =>
      `--yes 需要 --context：請指名要變更的叢集；kubeconfig 裡的 context 有：${contexts || '（沒有）'}`,
    noContexts: 'kubeconfig 裡沒有任何 context；請用 --kubeconfig 指定',
    contextNamespace: (context, problem) => `kube context ${context} 的命名空間：${problem}；請用 --namespace 指定`,
    verifyNeedsContext: '沒有終端機時，--verify 需要 --context：請指名要稽核的叢集',
    noTerminal: '沒有可以提問的終端機（stdin/stdout 不是 TTY，或設定了 CI）：無人值守執行請加上 --yes 與 --context',
    jsonNeedsYes: '--output json 用於無人值守的執行：請加上 --yes 與 --context',
    serverDryRunNeedsContext: '--dry-run=server 需要叢集：請用 --context 指定（kubeconfig 沒有目前使用中的 context）',
    nothingToResume: '沒有可以接續的：選取的步驟都已完成（要重新執行步驟，請用 --from <step>）',
    noStepSelected: '這些旗標沒有選到任何步驟',
    onlyNamesNoStep: (valid) => `--only：沒有指名任何步驟；可用的步驟：${valid.join('、')}`,
    needsStep: (id, needed) =>
      `步驟 ${id} 需要步驟 ${needed}（已在這個 context 完成，或選在它之前執行）；請把 ${needed} 加進 --only，或用 --from ${needed} 開始`,
    nothingToRollBack: (id, status, context, undoable) =>
      `--rollback ${id}：這個步驟在 context ${context} 的狀態是 ${status}，沒有東西可以復原；這裡可以復原的步驟：${undoable || '（沒有）'}`,
    nothingToUninstall: (context) =>
      `--uninstall：依狀態檔，這個 runbook 沒有在 context ${context} 變更過任何東西；沒有東西可以復原`,
    noFleetRecord: (where, contexts) =>
      `--all-contexts：kubeconfig 裡沒有任何 context 留有這個 runbook 的紀錄（在 Gthulhu 的命名空間，或 ${where} 裡的本機副本）（context 有：${contexts || '（沒有）'}）；請先執行 runbook`,
    nothingToAudit: (context) =>
      `--verify：依 Gthulhu 命名空間裡 runbook 的紀錄（沒有紀錄時依其本機副本），context ${context} 裡沒有已完成的步驟，所以沒有東西可以稽核；請先執行 runbook，或傳入它執行時用的 --namespace 與 --release`,
    localPath: ({ at, kind, code }) =>
      kind === 'not-a-directory'
        ? `${at} 不是目錄`
        : kind === 'a-directory'
          ? `${at} 是目錄`
          : kind === 'cannot-create'
            ? `無法建立 ${at}（${code}）`
            : `${at} 無法寫入（${code}）`,
    installDirFromRecord: (problem) => `--install-dir（取自紀錄）：${problem}`,
    stateDir: (path, problem) =>
      `紀錄的本機副本 ${path} 無法寫入：${problem}；請把擋路的東西移開，或用 --state-file 指定可寫入目錄裡的路徑`,
    reportDir: (dir, problem) => `--report ${dir}：${problem}；請指定可以寫入 report.md 與 report.html 的目錄`,
    renderDir: (dir, problem) => `--render ${dir}：${problem}；請選擇空的或新的目錄`,
  },
  audit: {
    didNotFinish: (error) => `✖ 稽核沒有完成：${error}`,
    weakerTitle: '因此變弱的攻擊路徑：',
    path: (id, from, target, via) => `${id}（${zhPath(id) ?? `${from} → ${target}，經由${via}`}）`,
    weakened: (path, holding, voided) =>
      `${path}：現在只靠${quoted(holding, '與')}拒絕，${quoted(voided, '或')}已不再有效`,
    reopened: (path, voided) => `${path}：重新開放——runbook 擔保的每一層都擋不住它：${quoted(voided, '、')}與計畫不符`,
    seenOpen: (path) => `${path}：實際可通——這條路徑上的嘗試通過了（探測得到回應，或准入控制放行）`,
    counts: (closed, total, open, openAnyway) =>
      `攻擊路徑：${total} 條中已關閉 ${closed} 條、開放 ${open} 條（其中 ${openAnyway} 條是設計上、依你的選擇或在對應步驟執行前本來就開放的：docs/zh-TW/threat-model.md）`,
    probed: '已用探測 Pod 實際試過連線能力',
    notProbed:
      '沒有實際試過連線能力（--no-probes）：沒有執行任何探測 Pod，所以這裡沒有任何結果能證明誰連得到什麼——只檢查了物件與別人的策略',
    holds: (reach) => `✔ runbook 設定的一切都仍然成立：每個物件都符合計畫，沒有別人的物件放寬存取，而且${reach}`,
    holdsUnprobed: (reach) => `✔ runbook 設定的每個物件都符合計畫，也沒有別人的物件放寬存取；${reach}`,
    fleetStart: (count, contexts) => `同時稽核 ${count} 個 context：${contexts}`,
    fleetNoRecord: (contexts) => `（沒有這個 runbook 的紀錄，未稽核：${contexts}）`,
    fleetUnreadable: (why) => `無法讀取這個叢集裡 runbook 的紀錄，所以沒有稽核：${why}`,
    fleetMember: (context, statePath, ids) => `context ${context}；狀態存在 ${statePath}；稽核 ${ids}`,
    fleetTitle: '機群稽核：',
    fleetColumns: ['context', '成立的步驟', '偏離', '開放路徑', '結論'],
    fleetFailed: '失敗',
    fleetDrifted: '✖ 偏離',
    fleetHolds: '✔ 成立',
    fleetAllHold: '✔ 每個 context 都成立',
    fleetSomeDrifted: (contexts) => `✖ ${contexts} 有偏離或無法稽核`,
  },
  record: {
    offline: (why, path) => `⚠ 讀不到叢集裡的 runbook 紀錄（${why}）；改為顯示本機副本 ${path}`,
    otherCluster: (path, theirs, ours, aside) =>
      `⚠ 本機副本 ${path} 屬於另一個叢集（kube-system uid ${theirs}；這個叢集是 ${ours}），而這個叢集裡沒有紀錄：這裡還沒有完成任何步驟。這次執行第一次寫入紀錄時，那份副本會保留為 ${aside}。`,
    where: (secret) => `runbook 的紀錄（Secret ${secret}）`,
    withLocalCopy: (record, path) => `${record}（本機副本 ${path}）`,
    noData: (where, key) => `${where} 沒有 data.${key}；未做任何更動`,
    notGzip: (where, key, error) => `${where}：data.${key} 不是以 gzip 壓縮的 JSON（${error}）；未做任何更動`,
    notJson: (where, key, error) => `${where}：data.${key} 不是有效的 JSON（${error}）；未做任何更動`,
    writtenElsewhere: (secret, namespace, selector) =>
      `runbook 的紀錄（Secret ${secret}）在這次執行讀取之後被別人寫入了；這次執行就此停止，不會覆寫它（kubectl get secrets -n ${namespace} -l ${selector}）`,
    lockHeld: (namespace, lease, holder, expires) =>
      `另一個執行持有命名空間 ${namespace} 的鎖（Lease ${lease}）：${holder}。請等它結束` +
      `${expires ? `；如果那個執行已經不在了，它的 lease 會在 ${expires} 到期，之後下一個執行就會接管` : ''}` +
      `（kubectl get lease ${lease.split('/')[1]} -n ${namespace} -o yaml）`,
    holder: (identity, operation, where, when) => {
      const at = [where.host && `主機 ${where.host}`, where.pid && `pid ${where.pid}`, where.dir && `目錄 ${where.dir}`]
        .filter(Boolean)
        .join('、')
      const times = [
        when.acquired && `自 ${when.acquired} 起`,
        when.renewed && `最近續約於 ${when.renewed}`,
        when.expires && `若未續約將於 ${when.expires} 到期`,
      ]
        .filter(Boolean)
        .join('，')
      return `${identity}${operation ? `（${operation}${at ? `，${at}` : ''}）` : at ? `（${at}）` : ''}${times ? `；${times}` : ''}`
    },
    tookOver: (holder, processGone) => `${holder}${processGone ? '——那個行程已經不在了' : '——那個 lease 已經到期'}`,
    lockTaken: (holder) => `這次執行的鎖被另一個執行拿走了${holder ? `（${holder}）` : ''}`,
    lockNotRenewed: (error) => `這次執行的鎖在到期前沒能續約（${error}）`,
    lockLost: (message) => `✖ ${message}：在下一個變更之前停止`,
    leftoverProbes: (count, names) => `⚠ 已移除先前被中斷的執行留下的 ${count} 個探測 Pod：${names}`,
    leftoverProbeServices: (count, names) => `⚠ 已移除先前被中斷的執行留下的 ${count} 個探測 Service：${names}`,
    leftoverProbeNamespaces: (count, names) =>
      `⚠ 已移除先前被中斷的執行留下的 ${count} 個探測命名空間，連同其中的東西：${names}`,
    foreign: (refs, getCommand) => {
      const it = refs.length === 1 ? '它' : '它們'
      return (
        `${refs.join('、')} 已經存在，而且不是 runbook 建立的（沒有 managed-by 標籤，也沒有 gthulhu-runbook 欄位管理器）：` +
        `別人的規則可能依賴${it}，所以沒有做任何變更。請先檢查${it}（${getCommand}）；要讓 runbook 取代${it}，請加上 --take-over 重新執行` +
        `（復原時會把${it}原封不動地放回現在的樣子）`
      )
    },
  },
  cli: {
    settingsDrift: (id, status, drift) =>
      `${id} ${status === 'accepted' ? '被接受' : '完成'}時用的是其他設定（${drift.join('；')}）；如果這會影響結果，請用 --from ${id} 或 --only ${id} 重新執行`,
    rollbackDependents: (dependents, step) =>
      `⚠ ${dependents.join('、')} 依賴 ${step}，會保留原處；在 --resume 重新套用 ${step} 之前，--verify 會一直回報${dependents.length > 1 ? '它們' : '它'}`,
    serverDryRunRejected: (count) => `✖ API server 拒絕了 ${count} 個物件；請先修正上面指出的設定再執行`,
    serverDryRunUnreachable: (said) => `無法執行伺服器端 dry run：連不上 API server：${said}；沒有任何物件經過判定`,
    reportNotWritten: (problem) => `報告無法寫入：${problem}；這次執行做了什麼，請看上面的輸出與它的紀錄`,
    contextLine: (context, namespace, source, statePath) =>
      `context ${context}，命名空間 ${namespace}（${source}）；紀錄存在 ${statePath}`,
    namespaceGiven: '依指定',
    namespaceDefault: '預設值：kube context 沒有指定命名空間',
    namespaceFromContext: (context) => `取自 kube context ${context}`,
    webUi: (url) => `在 ${url} 開啟 Web UI`,
    resumeWith: '接續執行：',
    report: (md, html) => `報告：${md} 與 ${html}`,
    interrupted: '⚠ 已中斷：正在停止執行中的指令並清理（再按一次 Ctrl-C 立刻離開）',
    tookOverLock: (holder) => `⚠ 從 ${holder} 接管了這次執行的鎖`,
    settingsFromRecord: (taken) => `沿用紀錄中的設定（這次沒有給）：${taken}`,
    drifts: (count) => `✖ ${count} 處偏離：`,
    auditing: (context, statePath, ids) => `context ${context}；紀錄存在 ${statePath}；稽核 ${ids}`,
    undoingSteps: (context, statePath, ids) => `context ${context}；紀錄存在 ${statePath}；復原 ${ids}`,
    uninstalled: 'runbook 做的變更都已復原；runbook 之前就存在的東西維持原樣。',
    rolledBack: (id) => `${id} 已復原；再以 --resume 執行即可重新套用。`,
    runAgain: '再執行同一個指令即可繼續：已復原的步驟不會再復原一次。',
    dryRunDone: 'Dry run：沒有做任何變更。',
    errorPrefix: 'gthulhu-runbook：',
    unexpected: '非預期的錯誤（這是 bug，請回報）：',
  },
}
