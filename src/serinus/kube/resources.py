"""lightkube resources for Flagger's custom kinds (flagger.app/v1beta1), with their status subresource."""

from __future__ import annotations

from lightkube.generic_resource import create_namespaced_resource

GROUP = "flagger.app"
VERSION = "v1beta1"

Canary = create_namespaced_resource(GROUP, VERSION, "Canary", "canaries")
MetricTemplate = create_namespaced_resource(GROUP, VERSION, "MetricTemplate", "metrictemplates")
AlertProvider = create_namespaced_resource(GROUP, VERSION, "AlertProvider", "alertproviders")

#: Serinus's own kinds (serinus.io), beside Flagger's: the run ledger
SERINUS_GROUP = "serinus.io"
SERINUS_VERSION = "v1alpha1"
CanaryRun = create_namespaced_resource(SERINUS_GROUP, SERINUS_VERSION, "CanaryRun", "canaryruns")
#: requests on a release (`serinus promote / abort / ...`), with a status subresource the operator settles
CanaryAction = create_namespaced_resource(SERINUS_GROUP, SERINUS_VERSION, "CanaryAction", "canaryactions")
