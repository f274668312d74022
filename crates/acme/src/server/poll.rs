//! Long polling support (RFC 8555 §7.5.1, §7.4: clients poll authorizations, challenges and
//! orders with POST-as-GET): whether the resource a poll named waits for the network owner's
//! approval (draft §3.4.4), and the resource as its owner would fetch it now. A caller that holds
//! a poll while a human decides asks the first, then, each time an approval may have changed,
//! the second, and answers the held request with it. No clock and no waiting here: the caller
//! owns both.

use core::time::Duration;

use super::*;
use crate::http::{Method, Response};
use crate::objects::*;

impl<S: Store, P: ApprovalPolicy, I: Issuer> Server<S, P, I> {
    /// Whether the authorization, challenge or order at `url` is pending only because a human
    /// has yet to approve its device (draft §3.4.4): an authorization (or a challenge's
    /// authorization) that validated and awaits approval, or a pending order with such an
    /// authorization. Reads the store only; `false` for any other URL.
    pub fn awaits_approval(&self, url: &str) -> Result<bool, StoreError> {
        let awaiting =
            |a: &AuthzRecord| a.status == AuthorizationStatus::Pending && a.awaiting_approval;
        match route::Route::parse(&self.cfg.base_url, Method::Post, url) {
            route::Route::Post(route::Post::Authz(id) | route::Post::Challenge(id, _)) => {
                Ok(self.store.authz(id)?.is_some_and(|a| awaiting(&a)))
            }
            route::Route::Post(route::Post::Order(id)) => {
                let Some(order) = self.store.order(id)? else {
                    return Ok(false);
                };
                if order.status != OrderStatus::Pending {
                    return Ok(false);
                }
                for a in &order.authz_ids {
                    if self.store.authz(a)?.is_some_and(|a| awaiting(&a)) {
                        return Ok(true);
                    }
                }
                Ok(false)
            }
            _ => Ok(false),
        }
    }

    /// The authorization, challenge or order at `url` as its owner would fetch it now with
    /// POST-as-GET (§7.5, §7.5.1, §7.4), the approval policy asked again: its object and its
    /// `Retry-After` (and a challenge's `Link: rel="up"`), without a nonce or the directory link
    /// (the caller merges it into the answer of a request that went through [`Server::handle`],
    /// which carries those). Only for a URL whose owner that request proved (it was answered
    /// 200): this does not check the account. `None` for any other URL or a missing resource.
    pub fn resource_now(
        &mut self,
        url: &str,
        now: Duration,
    ) -> Result<Option<Response>, StoreError> {
        let route = route::Route::parse(&self.cfg.base_url, Method::Post, url);
        match route {
            route::Route::Post(route::Post::Authz(id)) => {
                let Some(a) = self.store.authz(id)? else {
                    return Ok(None);
                };
                let a = self.refresh_authz(a, now)?;
                Ok(Some(self.authz_response(&a)))
            }
            route::Route::Post(route::Post::Challenge(authz, chall)) => {
                self.challenge_resource(authz, chall, now)
            }
            route::Route::Post(route::Post::Order(id)) => {
                let Some(order) = self.store.order(id)? else {
                    return Ok(None);
                };
                let order = self.refresh_order(order, now)?;
                self.order_response(&order).map(Some)
            }
            _ => Ok(None),
        }
    }
}
