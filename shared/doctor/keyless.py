"""The keyless signing chain (`keyless.*`) and sharing's own delegation client (`sharing.access`)."""

from __future__ import annotations

from ..credentials import (
    ADMIN_CONSOLE_DWD,
    SHARING_SCOPES,
    TOKEN_CREATOR,
    CredentialProvider,
)
from ..errors import AppError
from ..secrets import (
    SecretSource,
    secret_manager_accessor,
)
from .base import DoctorBase, _short


class KeylessChecks(DoctorBase):
    def check_keyless_chain(self) -> bool:
        """Runtime identity (a token for it), then Token Creator (one signBlob as the delegation account)."""
        assert self.credentials is not None
        delegate = self.client_email
        provider = self.credentials
        try:
            identity = provider.runtime_identity()
            identity.refresh(provider._request())
        except Exception as error:
            self.failed(
                "keyless.identity",
                "runtime identity",
                f"no runtime identity to sign with ({type(error).__name__}: {str(error)[:160]})",
                "On Cloud Run the metadata server provides it. From your machine, act as the function's runtime "
                "service account: gcloud auth application-default login --impersonate-service-account="
                "<terraform output -json runtime_service_accounts: booking's> (you need Token Creator on it).",
            )
            return False
        who = str(getattr(identity, "service_account_email", None) or getattr(identity, "signer_email", "?"))
        self.passed("keyless.identity", "runtime identity", f"signing as {who}", runtimeIdentity=who)
        from google.auth import iam

        try:
            iam.Signer(provider._request(), identity, delegate).sign(b"doctor")  # type: ignore[no-untyped-call]
        except Exception as error:
            text = str(error)
            if "403" in text or "PERMISSION_DENIED" in text:
                self.failed(
                    "keyless.token_creator",
                    "token creator",
                    f"{who} may not sign as {delegate}: it lacks {TOKEN_CREATOR} on that service account",
                    f"gcloud iam service-accounts add-iam-policy-binding {delegate} "
                    f"--member=serviceAccount:{who} --role={TOKEN_CREATOR} (Terraform grants it to each "
                    "function's runtime service account with keyless_dwd = true; then apply).",
                    missingRole=TOKEN_CREATOR,
                )
            else:
                self.failed(
                    "keyless.token_creator",
                    "token creator",
                    f"IAM Credentials signBlob failed: {text[:200]}",
                    "Enable iamcredentials.googleapis.com (Terraform does, infra/apis.tf) and run the doctor again.",
                )
            return False
        self.passed("keyless.token_creator", "token creator", f"{who} may sign as {delegate} (IAM Credentials)")
        return True

    def check_sharing_client(self) -> None:
        """Sharing's own delegation client: its secret, its grant (calendar.acls + calendarlist.readonly)."""
        assert self.config is not None
        name = self.sharing_secret_name
        assert name is not None
        label = "sharing: access"
        subject = next((c.act_as for c in self.config.calendars if c.act_as), None) or next(
            iter(self.config.sharing.admins), None
        )
        if subject is None:
            self.skipped("sharing.access", label, "no user to act as (no delegated calendar, no sharing admin)")
            return
        source = SecretSource(name, self.accessor or secret_manager_accessor(self.endpoints))
        provider = CredentialProvider(source, self.endpoints, runtime_identity=self.runtime_identity())
        try:
            provider.ready("delegated", subject, SHARING_SCOPES)
        except AppError as error:
            client = error.details.get("clientId") or "sharing's client ID (terraform output sharing_dwd_client_id)"
            self.failed(
                "sharing.access",
                label,
                f"sharing's delegation client ({name}) may not act as {subject}: {error.message}",
                f"In the Admin console ({ADMIN_CONSOLE_DWD}) add client ID {client} with exactly "
                f"{','.join(SHARING_SCOPES)}; or fix the secret {name} (the fix above applies to it).",
            )
            return
        self.passed("sharing.access", label, f"sharing's delegation client may act as {subject} with "
                    f"{_short(SHARING_SCOPES)}")

